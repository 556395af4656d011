"""The doctor's S3 checks: bucket, region, an SSE-KMS PutObject, ACLs, CORS — each failure with its remedy.

Every check takes the boto3 client as an argument so tests can hand in a botocore Stubber for the errors
a local S3 never produces (KMS denials, AccessControlListNotSupported, 301 PermanentRedirect).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

BASIC_POLICY = "docs/aws/iam-policy-s3-basic.json"
KMS_POLICY = "docs/aws/iam-policy-kms-s3.json"
ACL_REMEDY = "your bucket has ObjectOwnership=BucketOwnerEnforced; do not use ACLs"
SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id")
_DENIED = {"AccessDenied", "AccessDeniedException", "KMS.AccessDeniedException", "403", "Forbidden"}
_REDIRECT = {"301", "PermanentRedirect", "AuthorizationHeaderMalformed"}
_KMS_KEY_ERRORS = {"KMS.NotFoundException", "KMS.DisabledException", "KMS.KMSInvalidStateException",
                   "KMS.InvalidKeyUsageException"}


@dataclass
class Check:
    """One line of the doctor's table: ok, FAIL (exit code 1), warn, or skip (not configured)."""

    name: str
    status: str
    detail: str = ""
    remedy: list[str] = field(default_factory=list)


def error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def describe(exc: Exception) -> str:
    """`Code: message` on one line, as S3 sent it."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = error.get("Message") or ""
        code = error.get("Code") or str(status)
        return f"{code} ({status}): {message}".rstrip(": ") if code != str(status) else f"{status} {message}".strip()
    return f"{type(exc).__name__}: {exc}"


def kms_remedy(kms_key_id: str | None) -> list[str]:
    key = kms_key_id or "the bucket's KMS key"
    return [f"attach kms:GenerateDataKey, kms:Encrypt and kms:DescribeKey on {key} to the IAM user/role "
            f"of AWS_ACCESS_KEY_ID (policy: {KMS_POLICY})"]


def region_remedy(real_region: str | None, bucket: str) -> list[str]:
    if real_region:
        return [f"region mismatch; use the bucket's x-amz-bucket-region: set AWS_REGION={real_region}"]
    return ["region mismatch; find the bucket's region with "
            f"`aws s3api get-bucket-location --bucket {bucket}` and set AWS_REGION to it"]


def remedy_for(exc: Exception, bucket: str, kms_key_id: str | None = None, action: str = "access") -> list[str]:
    """The seed's troubleshooting line for an S3 error (empty when none applies)."""
    code, text = error_code(exc), describe(exc)
    if code == "AccessControlListNotSupported":
        return [ACL_REMEDY]
    if code in _REDIRECT:
        return region_remedy(region_from_error(exc), bucket)
    if code in _DENIED and "kms:" in text:
        return kms_remedy(kms_key_id)
    if code in _DENIED:
        return [f"allow {action} on arn:aws:s3:::{bucket} for the IAM user/role of AWS_ACCESS_KEY_ID: "
                f"attach {BASIC_POLICY} (replace BUCKET_NAME with {bucket})"]
    if code in _KMS_KEY_ERRORS or code == "KMS.ValidationException":
        return [f"AWS_S3_SSE_KMS_KEY_ID={kms_key_id} is not an enabled key in the bucket's region: use the "
                "key's ARN, arn:aws:kms:REGION:ACCOUNT_ID:key/KEY_ID"]
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch") or isinstance(exc, NoCredentialsError):
        return ["check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or give this host an IAM role)"]
    if code in ("404", "NoSuchBucket"):
        return [f"no bucket named {bucket}: check AWS_S3_BUCKET (bucket names are global and exact)"]
    if isinstance(exc, EndpointConnectionError):
        return ["cannot reach S3: check AWS_ENDPOINT_URL (leave it unset for AWS) and outbound HTTPS"]
    return []


def region_from_error(exc: Exception) -> str | None:
    """The bucket's real region, from a redirect's x-amz-bucket-region header, Region or Endpoint."""
    if not isinstance(exc, ClientError):
        return None
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    error = exc.response.get("Error", {})
    if headers.get("x-amz-bucket-region") or error.get("Region"):
        return headers.get("x-amz-bucket-region") or error.get("Region")
    match = re.search(r"s3[.-]([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws", error.get("Endpoint", ""))
    return match.group(1) if match else None


def check_bucket(client, bucket: str) -> tuple[Check, str | None]:
    """HeadBucket: the bucket exists and these credentials reach it; returns the region S3 reported."""
    try:
        response = client.head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as exc:
        real = region_from_error(exc)
        if error_code(exc) in _REDIRECT:
            return Check("s3 bucket", "FAIL", f"{bucket} answered {describe(exc)} (wrong region)",
                         region_remedy(real, bucket)), real
        return Check("s3 bucket", "FAIL", f"{bucket}: {describe(exc)}",
                     remedy_for(exc, bucket, action="s3:ListBucket")), real
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return Check("s3 bucket", "ok", f"s3://{bucket} reachable"), \
        headers.get("x-amz-bucket-region") or response.get("BucketRegion")


def _location(client, bucket: str) -> str | None:
    try:
        constraint = client.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except (ClientError, BotoCoreError):
        return None
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def check_region(client, bucket: str, region: str, real_region: str | None) -> Check:
    """AWS_REGION is the bucket's region (x-amz-bucket-region, else GetBucketLocation)."""
    real_region = real_region or _location(client, bucket)
    if real_region is None:
        return Check("s3 region", "warn", "S3 reported no x-amz-bucket-region and GetBucketLocation failed",
                     [f"allow s3:GetBucketLocation ({BASIC_POLICY}) so the region can be checked"])
    if real_region != region:
        return Check("s3 region", "FAIL", f"bucket is in {real_region}, AWS_REGION={region}",
                     region_remedy(real_region, bucket))
    return Check("s3 region", "ok", f"{region} (x-amz-bucket-region)")


def check_put(client, bucket: str, kms_key_id: str | None) -> Check:
    """PutObject a small private object (SSE-KMS when a key is configured), then delete it."""
    name, key = ("s3 put (SSE-KMS)" if kms_key_id else "s3 put"), f"_covet-doctor/{uuid.uuid4().hex}"
    params = {"Bucket": bucket, "Key": key, "Body": b"covet doctor write test\n", "ContentType": "text/plain"}
    if kms_key_id:
        params.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
    try:
        response = client.put_object(**params)
    except (ClientError, BotoCoreError) as exc:
        return Check(name, "FAIL", describe(exc), remedy_for(exc, bucket, kms_key_id, "s3:PutObject"))
    encryption = response.get("ServerSideEncryption") or "none reported"
    detail = f"wrote {key} ({encryption}{', ' + response['SSEKMSKeyId'] if response.get('SSEKMSKeyId') else ''})"
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        return Check(name, "FAIL", f"{detail} but DeleteObject failed: {describe(exc)}",
                     remedy_for(exc, bucket, kms_key_id, "s3:DeleteObject") + [f"remove {key} by hand"])
    if kms_key_id and encryption != "aws:kms":
        return Check(name, "FAIL", f"{detail}: S3 ignored the SSE-KMS request",
                     ["S3 stored the object without aws:kms: check AWS_ENDPOINT_URL points at AWS S3"])
    return Check(name, "ok", f"{detail}, deleted")


def check_acl(client, bucket: str) -> Check:
    """Object ownership: BucketOwnerEnforced means ACLs are off, which suits Covet (it never sends ACLs)."""
    try:
        rules = client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc)
        if code == "AccessControlListNotSupported":
            return Check("s3 acl", "FAIL", describe(exc), [ACL_REMEDY])
        if code == "OwnershipControlsNotFoundError":
            return Check("s3 acl", "ok", "no ownership controls (ACLs enabled); Covet never sets ACLs")
        return Check("s3 acl", "warn", f"cannot read ownership controls: {describe(exc)}",
                     remedy_for(exc, bucket, action="s3:GetBucketOwnershipControls"))
    ownership = rules[0]["ObjectOwnership"] if rules else "ObjectWriter"
    if ownership == "BucketOwnerEnforced":
        return Check("s3 acl", "ok", "ObjectOwnership=BucketOwnerEnforced: ACLs disabled; Covet never sets ACLs")
    return Check("s3 acl", "ok", f"ObjectOwnership={ownership} (ACLs enabled); Covet never sets ACLs")


def _matches(patterns: list[str], value: str) -> bool:
    """S3 CORS matching: case-insensitive, `*` as a wildcard."""
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), value, re.IGNORECASE) for p in patterns)


def cors_gap(rules: list[dict], origin: str, method: str, headers: tuple[str, ...]) -> str | None:
    """Why no rule lets `origin` send `method` with `headers`; None when one does."""
    for_origin = [r for r in rules if _matches(r.get("AllowedOrigins", []), origin)]
    if not for_origin:
        return f"no rule allows origin {origin}"
    with_method = [r for r in for_origin if method in r.get("AllowedMethods", [])]
    if not with_method:
        return f"{origin} may not {method}"
    for rule in with_method:
        missing = [h for h in headers if not _matches(rule.get("AllowedHeaders", []), h)]
        if not missing:
            return None
    return f"{method} from {origin} lacks AllowedHeaders {', '.join(missing)}"


def cors_remedy(bucket: str, origin: str) -> list[str]:
    """The infrastructure seed's CORS rule for this origin, as one AWS CLI command."""
    rules = {"CORSRules": [{"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT"],
                            "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600}]}
    return [f"allow {origin} (PUBLIC_URL) to GET and PUT (docs/aws/README.md):",
            f"aws s3api put-bucket-cors --bucket {bucket} --cors-configuration '{json.dumps(rules)}'"]


def check_cors(client, bucket: str, origin: str, kms_key_id: str | None) -> Check:
    """The bucket's CORS lets the admin's origin GET and PUT with the headers the browser sends."""
    try:
        rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except (ClientError, BotoCoreError) as exc:
        if error_code(exc) == "NoSuchCORSConfiguration":
            return Check("s3 cors", "FAIL", f"no CORS configuration: browsers at {origin} cannot upload",
                         cors_remedy(bucket, origin))
        return Check("s3 cors", "warn", f"cannot read CORS: {describe(exc)}",
                     remedy_for(exc, bucket, action="s3:GetBucketCors"))
    put_headers = ("content-type", *(SSE_HEADERS if kms_key_id else ()), "if-none-match")  # single-use PUT
    gaps = [gap for gap in (cors_gap(rules, origin, "GET", ()), cors_gap(rules, origin, "PUT", put_headers)) if gap]
    if gaps:
        return Check("s3 cors", "FAIL", "; ".join(dict.fromkeys(gaps)), cors_remedy(bucket, origin))
    return Check("s3 cors", "ok", f"{origin} may GET and PUT ({', '.join(put_headers)})")


def run_s3_checks(client, bucket: str, region: str, kms_key_id: str | None, origin: str) -> list[Check]:
    """Every S3 check in order; the later ones are skipped when the bucket cannot be reached."""
    reach, real_region = check_bucket(client, bucket)
    results = [reach]
    if reach.status == "ok" or real_region:
        results.append(check_region(client, bucket, region, real_region))
    if reach.status != "ok":
        return results + [Check(name, "skip", "skipped: bucket not reachable")
                          for name in ("s3 put", "s3 acl", "s3 cors")]
    return results + [check_put(client, bucket, kms_key_id), check_acl(client, bucket),
                      check_cors(client, bucket, origin, kms_key_id)]
