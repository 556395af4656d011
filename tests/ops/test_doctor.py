"""`flask covet doctor`: S3 on moto, what moto cannot produce via Stubber, other services, a dead database."""

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from botocore.stub import ANY, Stubber

from covet.media.s3 import s3_client
from covet.ops.doctor import _where, run_doctor
from covet.storefront.jobs import cloudfront_client

REPO = Path(__file__).resolve().parents[2]
REGION, ORIGIN, BUCKET = "ca-central-1", "https://admin.covet.test", "covet-media"
KEY_ARN = "arn:aws:kms:ca-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KMS_DENIED = ("User: arn:aws:iam::123456789012:user/covet is not authorized to perform: kms:GenerateDataKey on "
              f"resource: {KEY_ARN} because no identity-based policy allows the kms:GenerateDataKey action")
SEED_CORS = {"AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"],
             "MaxAgeSeconds": 3600}


def doctor(app, **clients) -> tuple[int, list[str]]:
    lines: list[str] = []
    return run_doctor(app, lines.append, **clients), lines


def block(lines: list[str], name: str) -> str:
    """The check's line and the remedy lines under it."""
    start = next(i for i, line in enumerate(lines) if re.match(rf"\[.{{4}}\] {re.escape(name)}(\s|$)", line))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return "\n".join(lines[start:end])


# --- S3 on moto -------------------------------------------------------------------------------------------
@pytest.fixture
def aws(app, moto_endpoint):
    """The app pointed at a freshly reset moto server."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    app.config.update(AWS_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_REGION=REGION, PUBLIC_URL=ORIGIN)
    return app.config


def make_bucket(cfg, region=REGION, cors_rules=(SEED_CORS,)) -> str:
    """A bucket in `region` with BucketOwnerEnforced, the given CORS rules and a moto KMS key configured."""
    s3 = s3_client({**cfg, "AWS_REGION": region})
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    if cors_rules:
        s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": list(cors_rules)})
    kms = boto3.client("kms", region_name=region, endpoint_url=cfg["AWS_ENDPOINT_URL"],
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    cfg.update(AWS_S3_BUCKET=BUCKET, AWS_S3_SSE_KMS_KEY_ID=kms.create_key()["KeyMetadata"]["Arn"])
    return BUCKET


def test_every_s3_check_passes_and_the_test_object_carries_aws_kms(app, aws):
    make_bucket(aws)
    client, stored = s3_client(aws), []
    # Just before the doctor deletes its test object, read what S3 stored.
    client.meta.events.register("before-parameter-build.s3.DeleteObject", lambda params, **kw: stored.append(
        s3_client(aws).head_object(Bucket=params["Bucket"], Key=params["Key"])))
    code, lines = doctor(app, s3=client)
    assert code == 0, "\n".join(lines)
    for name in ("s3 bucket", "s3 region", "s3 put (SSE-KMS)", "s3 acl", "s3 cors"):
        assert block(lines, name).startswith("[ ok ]"), block(lines, name)
    assert "ACLs disabled; Covet never sets ACLs" in block(lines, "s3 acl")
    assert (stored[0]["ServerSideEncryption"], stored[0]["SSEKMSKeyId"]) == ("aws:kms", aws["AWS_S3_SSE_KMS_KEY_ID"])
    assert client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0  # the doctor removed its object
    assert lines[-1] == "all required checks passed"


def test_a_bucket_in_another_region_is_named_from_x_amz_bucket_region(app, aws):
    make_bucket(aws, region="eu-west-1")
    code, lines = doctor(app)
    assert code == 1 and block(lines, "s3 region") == (
        "[FAIL] s3 region         bucket is in eu-west-1, AWS_REGION=ca-central-1\n"
        "       fix: region mismatch; use the bucket's x-amz-bucket-region: set AWS_REGION=eu-west-1")


@pytest.mark.parametrize("rules, why", [
    ((), "no CORS configuration"),
    (({**SEED_CORS, "AllowedOrigins": ["https://covet.app"]},), f"no rule allows origin {ORIGIN}"),
    (({**SEED_CORS, "AllowedMethods": ["GET"]},), f"{ORIGIN} may not PUT"),
    (({**SEED_CORS, "AllowedHeaders": ["Content-Type"]},), "lacks AllowedHeaders x-amz-server-side-encryption"),
    (({"AllowedOrigins": ["https://*.covet.test"], "AllowedMethods": ["PUT", "GET"],
       "AllowedHeaders": ["content-type", "x-amz-*", "If-None-Match"]},), None),  # wildcards are enough
    (({**SEED_CORS, "AllowedHeaders": ["content-type", "x-amz-*"]},), "lacks AllowedHeaders if-none-match"),
])
def test_cors_that_would_block_the_browser_prints_the_seed_rule(app, aws, rules, why):
    make_bucket(aws, cors_rules=rules)
    code, lines = doctor(app)
    cors = block(lines, "s3 cors")
    if why is None:
        assert code == 0 and cors.startswith(f"[ ok ] s3 cors           {ORIGIN} may GET and PUT"), cors
        return
    assert code == 1 and cors.startswith("[FAIL]") and why in cors
    assert (f"aws s3api put-bucket-cors --bucket {BUCKET} --cors-configuration '{{\"CORSRules\": [{{"
            f'"AllowedOrigins": ["{ORIGIN}"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"]') in cors


def test_the_iam_policies_the_remedies_name_parse_and_grant_what_covet_calls():
    basic, kms = ([(st["Resource"], st["Action"]) for st in json.loads((REPO / "docs/aws" / name).read_text())[
        "Statement"]] for name in ("iam-policy-s3-basic.json", "iam-policy-kms-s3.json"))
    assert basic == [("arn:aws:s3:::BUCKET_NAME", ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketCors",
                                                   "s3:GetBucketOwnershipControls"]),
                     ("arn:aws:s3:::BUCKET_NAME/*", ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"])]
    assert kms == [("arn:aws:kms:REGION:ACCOUNT_ID:key/KMS_KEY_ID",
                    ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"])]


# --- what moto cannot produce: botocore's Stubber with the real error codes ---------------------------------
HAPPY = {
    "head_bucket": {"BucketRegion": REGION},
    "put_object": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ARN},
    "delete_object": {},
    "get_bucket_ownership_controls": {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}},
    "get_bucket_cors": {"CORSRules": [SEED_CORS]},
}
KMS_PUT = {"Bucket": BUCKET, "Key": ANY, "Body": ANY, "ContentType": "text/plain", "ServerSideEncryption": "aws:kms",
           "SSEKMSKeyId": KEY_ARN}  # exactly these: no ACL is ever sent


@pytest.fixture
def stubbed(app):
    """An S3 client answering from a script: ("method", response) or ("method", error fields)."""
    app.config.update(AWS_S3_BUCKET=BUCKET, AWS_REGION=REGION, AWS_S3_SSE_KMS_KEY_ID=KEY_ARN, PUBLIC_URL=ORIGIN)
    client = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)

    def script(*calls):
        for method, outcome in calls:
            params = KMS_PUT if method == "put_object" else None
            if "service_error_code" in outcome:
                stub.add_client_error(method, expected_params=params, **outcome)
            else:
                stub.add_response(method, outcome, params)
        stub.activate()
        return client
    yield script
    stub.assert_no_pending_responses()


def error(code, message, status, **meta):  # Stubber.add_client_error's arguments
    return {"service_error_code": code, "service_message": message, "http_status_code": status, **meta}


KMS_REMEDY = (f"fix: attach kms:GenerateDataKey, kms:Encrypt and kms:DescribeKey on {KEY_ARN} to the IAM user/role "
              "of AWS_ACCESS_KEY_ID (policy: docs/aws/iam-policy-kms-s3.json)")


@pytest.mark.parametrize("put_error, remedy", [
    (error("AccessDenied", KMS_DENIED, 403), KMS_REMEDY),
    (error("AccessControlListNotSupported", "The bucket does not allow ACLs", 400),
     "fix: your bucket has ObjectOwnership=BucketOwnerEnforced; do not use ACLs"),
])
def test_a_refused_put_prints_the_seed_remedy(app, stubbed, put_error, remedy):
    code, lines = doctor(app, s3=stubbed(
        ("head_bucket", HAPPY["head_bucket"]), ("put_object", put_error),
        ("get_bucket_ownership_controls", HAPPY["get_bucket_ownership_controls"]),
        ("get_bucket_cors", HAPPY["get_bucket_cors"])))
    put = block(lines, "s3 put (SSE-KMS)")
    assert put.startswith("[FAIL]") and put_error["service_message"] in put.splitlines()[0]
    assert put.splitlines()[1].strip() == remedy
    assert (code, lines[-1]) == (1, "1 failed (s3 put (SSE-KMS))")


@pytest.mark.parametrize("redirect", [
    error("301", "Moved Permanently", 301, response_meta={"HTTPHeaders": {"x-amz-bucket-region": "eu-west-1"}}),
    error("PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified "
          "endpoint.", 301, service_error_meta={"Endpoint": f"{BUCKET}.s3.eu-west-1.amazonaws.com"}),
])
def test_a_301_permanent_redirect_names_the_bucket_region(app, stubbed, redirect):
    code, lines = doctor(app, s3=stubbed(("head_bucket", redirect)))
    assert code == 1
    assert block(lines, "s3 bucket").startswith("[FAIL]")
    assert "fix: region mismatch; use the bucket's x-amz-bucket-region: set AWS_REGION=eu-west-1" in block(
        lines, "s3 bucket")
    assert "bucket is in eu-west-1, AWS_REGION=ca-central-1" in block(lines, "s3 region")
    assert all(block(lines, name).startswith("[ -- ]") for name in ("s3 put", "s3 acl", "s3 cors"))


@pytest.mark.parametrize("failure, remedy", [
    (error("403", "Forbidden", 403), "attach docs/aws/iam-policy-s3-basic.json (replace BUCKET_NAME with covet-media)"),
    (error("404", "Not Found", 404), "no bucket named covet-media: check AWS_S3_BUCKET"),
])
def test_an_unreachable_bucket_names_the_fix(app, stubbed, failure, remedy):
    code, lines = doctor(app, s3=stubbed(("head_bucket", failure)))
    assert code == 1 and remedy in block(lines, "s3 bucket")


def test_without_a_bucket_storage_is_one_local_disk_line(app):
    code, lines = doctor(app)
    assert block(lines, "storage") == f"[ ok ] storage     local disk at {app.config['MEDIA_ROOT']}"
    assert not [line for line in lines if " s3 " in line]
    assert code == 0 and _where("postgresql://covet:secret@db:5432/covet") == "at db:5432/covet"  # no password


# --- the other services -----------------------------------------------------------------------------------
def smtp_server(host: str, tls: bool) -> Controller:
    with socket.socket() as probe:  # aiosmtpd needs a concrete port
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH) if tls else None
    controller = Controller(Sink(), hostname=host, port=port, tls_context=context)
    controller.start()
    return controller


@pytest.mark.parametrize("host, tls, status, text", [
    ("127.0.0.1", True, "[ ok ]", "STARTTLS offered (login not tried)"),
    ("127.0.0.1", False, "[warn]", "no STARTTLS (accepted for a loopback relay)"),
    # 127.0.0.2 is not in the email backend's loopback list, so it is treated like a remote server.
    ("127.0.0.2", False, "[FAIL]", "STARTTLS not offered; Covet will not send credentials"),
])
def test_smtp_connects_and_looks_for_starttls(app, host, tls, status, text):
    server = smtp_server(host, tls)
    try:
        app.config["SMTP_URL"] = f"smtp://{host}:{server.port}"
        code, lines = doctor(app)
    finally:
        server.stop()
    assert block(lines, "email smtp").startswith(status) and text in block(lines, "email smtp")
    assert code == (1 if status == "[FAIL]" else 0)


@pytest.mark.parametrize("overrides, name, status, text", [
    ({"SMTP_URL": "smtp://127.0.0.1:1"}, "email smtp", "[FAIL]", "fix: check SMTP_URL's host and port"),
    ({"RESEND_API_KEY": "re_123456789_abcdefghijk"}, "email resend", "[ ok ]", "does not call api.resend.com"),
    ({"RESEND_API_KEY": "re_x"}, "email resend", "[FAIL]", "fix: create a key at resend.com/api-keys"),
    ({"SENTRY_DSN": "https://abc123@o12.ingest.sentry.io/456"}, "sentry", "[ ok ]", "project 456"),
    ({"SENTRY_DSN": "https://o12.ingest.sentry.io/456"}, "sentry", "[FAIL]", "Missing public key"),
    ({"STRIPE_SECRET_KEY": "sk_test_x"}, "stripe", "[warn]", "fix: set STRIPE_WEBHOOK_SECRET"),
    ({"COVET_ENV": "production"}, "email", "[warn]", "fix: set SMTP_URL, or RESEND_API_KEY and EMAIL_FROM"),
])
def test_service_lines(app, overrides, name, status, text):
    app.config.update(overrides)
    code, lines = doctor(app)
    assert block(lines, name).startswith(status) and text in block(lines, name)
    assert code == (1 if status == "[FAIL]" else 0)


def test_cloudfront_distribution_is_read_with_the_invalidation_client(app, aws):
    origin = {"Id": "shop", "DomainName": "shop.covet.test", "CustomOriginConfig": {
        "HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}
    dist = cloudfront_client(aws).create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex, "Comment": "covet", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]}, "DefaultCacheBehavior": {
            "TargetOriginId": "shop", "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    aws["CLOUDFRONT_DISTRIBUTION_ID"] = dist["Id"]
    found = block(doctor(app)[1], "cloudfront")
    assert re.match(rf"\[ ok \] cloudfront\s+{dist['Id']} \w+, {dist['DomainName']}", found), found
    aws["CLOUDFRONT_DISTRIBUTION_ID"] = "E2QWRUHAPOMQZL"
    code, lines = doctor(app)
    assert code == 1 and "NoSuchDistribution" in block(lines, "cloudfront")
    assert "fix: check CLOUDFRONT_DISTRIBUTION_ID" in block(lines, "cloudfront")


# --- `flask --app wsgi covet doctor` with a dead database ---------------------------------------------------
def run_flask(tmp_path, *args) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "COVET_ENV": "production",
           "COVET_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 40,
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/covet"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_doctor_reports_a_dead_database_instead_of_stopping_at_start_up(tmp_path):
    done = run_flask(tmp_path, "covet", "doctor")
    assert done.returncode == 1, done.stderr
    assert re.search(r"^\[FAIL\] database .*127\.0\.0\.1.*port 1 failed", done.stdout, re.MULTILINE)
    assert "fix: cannot connect with DATABASE_URL" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    # Every other command still stops at start-up with the one-line message.
    other = run_flask(tmp_path, "routes")
    assert other.returncode == 1 and "covet: configuration error: DATABASE_URL: cannot connect" in other.stderr
