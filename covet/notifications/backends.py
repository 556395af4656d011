"""Where email goes: SMTP (SMTP_URL, STARTTLS), Resend (RESEND_API_KEY), or the console."""
from __future__ import annotations

import functools
import smtplib
import ssl
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs ~20 ms, too much per email."""
    return ssl.create_default_context()


class PermanentEmailError(Exception):
    """The provider refused this email for good (bad address, 4xx): never retry."""


class TransientEmailError(Exception):
    """A failure worth retrying later (network, 5xx, rate limit)."""


@dataclass
class OutgoingEmail:
    to: str
    sender: str
    subject: str
    html: str
    text: str
    idempotency_key: str
    headers: dict[str, str] = field(default_factory=dict)

    def as_mime(self) -> EmailMessage:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, self.to, self.subject
        message["Date"] = formatdate(usegmt=True)
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


class ConsoleBackend:
    """Embedded default: print the email (text part) to stdout."""

    name = "console"

    def send(self, email: OutgoingEmail) -> str:
        print(f"--- email to {email.to}: {email.subject}\n{email.text}\n--- end", file=sys.stdout, flush=True)
        return f"console:{email.headers.get('Message-ID', '')}"


class SMTPBackend:
    """SMTP with STARTTLS (smtp://user:pass@host:587) or implicit TLS (smtps://…:465)."""

    name = "smtp"

    def __init__(self, url: str, timeout: float = 10):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=tls_context())
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        client.ehlo()
        if client.has_extn("starttls"):
            client.starttls(context=tls_context())
            client.ehlo()
        elif self.host not in LOOPBACK:
            client.quit()
            # Never send credentials or mail in clear text across a network.
            raise TransientEmailError(f"SMTP server {self.host} does not offer STARTTLS; use smtps://")
        return client

    def send(self, email: OutgoingEmail) -> str:
        try:
            with self._connect() as client:
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(email.as_mime())
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise (PermanentEmailError if all(c >= 500 for c in codes) else TransientEmailError)(
                f"recipient refused: {exc.recipients}") from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise (PermanentEmailError if exc.smtp_code >= 500 else TransientEmailError)(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientEmailError(f"SMTP login failed ({exc.smtp_code}); check SMTP_URL") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientEmailError(f"{type(exc).__name__}: {exc}") from exc
        return email.headers.get("Message-ID", "")


class ResendBackend:
    """Resend's API through its SDK, with Resend's own idempotency key (same email never twice)."""

    name = "resend"

    def __init__(self, api_key: str, timeout: int = 10):
        import resend
        from resend.http_client_requests import RequestsClient

        resend.api_key = api_key
        resend.default_http_client = RequestsClient(timeout=timeout)
        self._resend = resend

    def send(self, email: OutgoingEmail) -> str:
        params = {"from": email.sender, "to": [email.to], "subject": email.subject, "html": email.html,
                  "text": email.text, "headers": email.headers}
        try:
            response = self._resend.Emails.send(params, {"idempotency_key": email.idempotency_key})
        except self._resend.exceptions.ResendError as exc:
            status = int(exc.code) if str(exc.code).isdigit() else 500
            permanent = 400 <= status < 500 and status not in (408, 409, 429)
            raise (PermanentEmailError if permanent else TransientEmailError)(
                f"Resend {exc.code}: {exc.message if hasattr(exc, 'message') else exc}") from exc
        except Exception as exc:  # network errors from the SDK's HTTP client
            raise TransientEmailError(f"{type(exc).__name__}: {exc}") from exc
        return response["id"]


def backend_for(config: dict):
    """SMTP when SMTP_URL is set, else Resend when RESEND_API_KEY is set, else the console."""
    if config.get("SMTP_URL"):
        return SMTPBackend(config["SMTP_URL"])
    if config.get("RESEND_API_KEY"):
        return ResendBackend(config["RESEND_API_KEY"])
    return ConsoleBackend()
