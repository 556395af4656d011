"""`flask covet doctor`: check every configured service and print the remedy for each failure."""
from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask

from covet.ops import checks
from covet.ops.s3_checks import Check, describe, error_code, run_s3_checks

MARKS = {"ok": " ok ", "FAIL": "FAIL", "warn": "warn", "skip": " -- "}
SMTP_TIMEOUT = 5.0
_RESEND_KEY = re.compile(r"re_[A-Za-z0-9_]{8,}")
_PROBE_REMEDIES = {
    "database": ["cannot connect with DATABASE_URL: check host, port, user, password and database name "
                 "(RDS: ?sslmode=require), and that the server accepts connections from this host"],
    "redis": ["cannot connect with REDIS_URL (rediss:// for TLS, e.g. Upstash); or unset it to run jobs "
              "in-process"],
    "queues": ["RQ keeps its queues in Redis: fix REDIS_URL first"],
    "stripe": ["set STRIPE_WEBHOOK_SECRET (whsec_…) from the webhook endpoint in the Stripe dashboard"],
}


def from_probe(result: checks.CheckResult, where: str = "") -> Check:
    """A health probe's result as a doctor line: a failed optional service is a warning."""
    status = {"ok": "ok", "down": "FAIL" if result.required else "warn"}.get(result.status, "skip")
    parts = [result.detail, where] if status == "ok" else [result.detail]
    if status == "ok" and result.latency_ms is not None:
        parts.append(f"({result.latency_ms} ms)")
    remedy = _PROBE_REMEDIES.get(result.name, []) if status in ("FAIL", "warn") else []
    return Check(result.name, status, " ".join(part for part in parts if part), remedy)


def _where(url: str | None) -> str:
    """host:port/db of a service URL, never its password."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return parts.path.removeprefix("/")
    return f"at {parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


def storage_checks(app: Flask, s3=None) -> list[Check]:
    """Local disk in one line; with AWS_S3_BUCKET, every S3 check (`s3` replaces the client in tests)."""
    cfg = app.config
    if not cfg.get("AWS_S3_BUCKET"):
        result = checks.check_storage(app)
        if result.status == "ok":
            return [Check("storage", "ok", f"local disk at {result.detail}")]
        return [Check("storage", "FAIL", f"local disk: {result.detail}",
                      [f"make {cfg['MEDIA_ROOT']} writable by the app's user, or set AWS_S3_BUCKET"])]
    if s3 is None:
        from covet.media.s3 import s3_client

        s3 = s3_client(cfg)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(cfg["PUBLIC_URL"]))
    return run_s3_checks(s3, cfg["AWS_S3_BUCKET"], cfg["AWS_REGION"], cfg.get("AWS_S3_SSE_KMS_KEY_ID"), origin)


def check_smtp(url: str, timeout: float = SMTP_TIMEOUT) -> Check:
    """Connect, EHLO, and see STARTTLS offered (smtps:// is TLS from the start); no login, no mail."""
    from covet.notifications.backends import LOOPBACK, tls_context

    parts = urlsplit(url)
    implicit = parts.scheme == "smtps"
    where = f"{parts.hostname}:{parts.port or (465 if implicit else 587)}"
    try:
        if implicit:
            with smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=timeout, context=tls_context()) as c:
                code = c.ehlo()[0]
            return Check("email smtp", "ok", f"{where}: TLS and EHLO {code} ok (login not tried)")
        with smtplib.SMTP(parts.hostname, parts.port or 587, timeout=timeout) as client:
            code = client.ehlo()[0]
            starttls = client.has_extn("starttls")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("email smtp", "FAIL", f"{where}: {type(exc).__name__}: {exc}",
                     ["check SMTP_URL's host and port (587 with STARTTLS, smtps://…:465 for TLS) and that "
                      "outbound SMTP is allowed from this host"])
    if starttls:
        return Check("email smtp", "ok", f"{where}: EHLO {code}, STARTTLS offered (login not tried)")
    if parts.hostname in LOOPBACK:
        return Check("email smtp", "warn", f"{where}: EHLO {code}, no STARTTLS (accepted for a loopback relay)",
                     ["fine for a local relay; use a server with STARTTLS or smtps:// across a network"])
    return Check("email smtp", "FAIL", f"{where}: EHLO {code} but STARTTLS not offered; Covet will not send "
                 "credentials or mail in clear text", ["use smtps://…:465, or a server offering STARTTLS on 587"])


def check_resend(key: str, sender: str) -> Check:
    """Key format only: the doctor makes no call to api.resend.com."""
    if not _RESEND_KEY.fullmatch(key):
        return Check("email resend", "FAIL", "RESEND_API_KEY does not look like a Resend key (re_…)",
                     ["create a key at resend.com/api-keys (sending access) and paste it whole"])
    return Check("email resend", "ok", f"key format ok, from {sender} (format only: the doctor does not call "
                 "api.resend.com, so the key and the sender's domain are not verified)")


def email_checks(cfg) -> list[Check]:
    """SMTP and/or Resend when configured; the console backend is a warning in production."""
    results = [check_smtp(cfg["SMTP_URL"])] if cfg.get("SMTP_URL") else []
    if cfg.get("RESEND_API_KEY"):
        results.append(check_resend(cfg["RESEND_API_KEY"], cfg.get("EMAIL_FROM") or ""))
    if results:
        return results
    if cfg.get("COVET_ENV") == "production":
        return [Check("email", "warn", "console backend: emails are printed to the log, not sent",
                      ["set SMTP_URL, or RESEND_API_KEY and EMAIL_FROM"])]
    return [Check("email", "skip", "console backend (SMTP_URL and RESEND_API_KEY unset)")]


def check_cloudfront(cfg, client=None) -> Check:
    """GetDistribution for CLOUDFRONT_DISTRIBUTION_ID, with the client cache invalidation uses."""
    dist_id = cfg.get("CLOUDFRONT_DISTRIBUTION_ID")
    if not dist_id:
        return Check("cloudfront", "skip", "CLOUDFRONT_DISTRIBUTION_ID unset: no CDN invalidation")
    if client is None:
        from covet.storefront.jobs import cloudfront_client

        client = cloudfront_client(cfg)
    try:
        dist = client.get_distribution(Id=dist_id)["Distribution"]
    except (ClientError, BotoCoreError) as exc:
        remedy = ["check CLOUDFRONT_DISTRIBUTION_ID (the distribution's ID such as E2QWRUHAPOMQZL, not its "
                  "domain)"] if error_code(exc) == "NoSuchDistribution" else [
            f"allow cloudfront:GetDistribution and cloudfront:CreateInvalidation on "
            f"arn:aws:cloudfront::ACCOUNT_ID:distribution/{dist_id} for AWS_ACCESS_KEY_ID"]
        return Check("cloudfront", "FAIL", f"{dist_id}: {describe(exc)}", remedy)
    names = [dist["DomainName"], *dist["DistributionConfig"].get("Aliases", {}).get("Items", [])]
    detail = f"{dist_id} {dist['Status']}, {', '.join(names)}"
    domain = cfg.get("CLOUDFRONT_DOMAIN")
    if domain and domain not in names:
        return Check("cloudfront", "warn", f"{detail}; CLOUDFRONT_DOMAIN={domain} is not one of its names",
                     [f"set CLOUDFRONT_DOMAIN={dist['DomainName']} (or add {domain} as an alternate domain)"])
    return Check("cloudfront", "ok", detail)


def check_sentry(dsn: str | None) -> Check:
    """DSN format only (no event is sent)."""
    if not dsn:
        return Check("sentry", "skip", "SENTRY_DSN unset: errors go to the logs only")
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        parsed = Dsn(dsn)
    except BadDsn as exc:
        return Check("sentry", "FAIL", f"SENTRY_DSN is not a DSN: {exc}",
                     ["copy the DSN from Sentry: Project settings → Client Keys (https://KEY@oNNN.ingest.sentry.io/ID)"])
    return Check("sentry", "ok", f"project {parsed.project_id} at {parsed.host} (format only; no event sent)")


def collect(app: Flask, s3=None, cloudfront=None) -> list[Check]:
    """Every check, in the order they are printed."""
    cfg = app.config
    probes = [from_probe(checks.check_database(app), _where(cfg["SQLALCHEMY_DATABASE_URI"])),
              from_probe(checks.check_redis(app), _where(cfg.get("REDIS_URL"))), from_probe(checks.check_queues(app))]
    return [*probes, *storage_checks(app, s3), from_probe(checks.check_stripe(app)),
            *email_checks(cfg), check_cloudfront(cfg, cloudfront), check_sentry(cfg.get("SENTRY_DSN"))]


def render(results: list[Check]) -> list[str]:
    """One line per check; remedies indented under it."""
    width = max(len(check.name) for check in results)
    lines = []
    for check in results:
        lines.append(f"[{MARKS[check.status]}] {check.name:<{width}}  {check.detail}".rstrip())
        lines += [f"{'':7}fix: {line}" if i == 0 else f"{'':12}{line}" for i, line in enumerate(check.remedy)]
    return lines


def run_doctor(app: Flask, echo: Callable[[str], None], s3=None, cloudfront=None) -> int:
    """Print one line per check; return the process exit code (1 if a required check fails)."""
    echo(f"covet doctor (COVET_ENV={app.config.get('COVET_ENV')})")
    results = collect(app, s3, cloudfront)
    for line in render(results):
        echo(line)
    failed = [check.name for check in results if check.status == "FAIL"]
    warned = sum(check.status == "warn" for check in results)
    note = f"; {warned} warning(s)" if warned else ""
    echo(f"{len(failed)} failed ({', '.join(failed)}){note}" if failed else f"all required checks passed{note}")
    return 1 if failed else 0
