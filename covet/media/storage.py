"""Where image files live: S3 when AWS_S3_BUCKET is set, else local disk under MEDIA_ROOT; one interface."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.security import safe_join

from covet.media.s3 import s3_client

IMMUTABLE = "public, max-age=31536000, immutable"  # every key is written once (a new upload gets a new key)
UPLOAD_EXPIRES = 300  # seconds a presigned PUT stays valid
URL_EXPIRES = 24 * 3600  # presigned GET for a private bucket without CloudFront


class StorageError(Exception):
    """A storage call failed; the message is fit to show to a person."""


class UploadUsedError(StorageError):
    """An upload link was used already: its object exists (or its image is no longer waiting for it)."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None


def describe_s3_error(exc: Exception) -> str:
    """One sentence for the S3 failures the seed lists, the raw code and message otherwise."""
    if not isinstance(exc, ClientError):
        return f"S3 could not be reached ({type(exc).__name__})."
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code == "AccessDenied" and "kms" in message.lower():
        return ("S3 refused the request: the credentials need kms:GenerateDataKey, kms:Encrypt and "
                "kms:Decrypt on the bucket's KMS key (docs/aws/iam-policy-kms-s3.json).")
    if code == "AccessControlListNotSupported":
        return "The bucket refuses ACLs (BucketOwnerEnforced); nothing may send one."
    if code in ("PermanentRedirect", "301"):
        region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        return f"The bucket is in another region{f' ({region})' if region else ''}: set AWS_REGION to it."
    if code in ("NoSuchBucket", "404", "NoSuchKey"):
        return f"S3 says {code}: {message or 'not found'}."
    return f"S3 error {code}: {message}".strip()


class S3Storage:
    """Objects in one S3 bucket, SSE-KMS when a key is configured, never an ACL."""

    def __init__(self, cfg: dict):
        self.bucket = cfg["AWS_S3_BUCKET"]
        self.kms_key_id = cfg.get("AWS_S3_SSE_KMS_KEY_ID")
        self.cloudfront = cfg.get("CLOUDFRONT_DOMAIN")
        self.client = _cached_client(*(cfg.get(name) for name in _CLIENT_SETTINGS))

    def _sse(self) -> dict:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}

    def _call(self, method: str, **params):
        try:
            return getattr(self.client, method)(Bucket=self.bucket, **params)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(describe_s3_error(exc)) from exc

    def presign_upload(self, key: str, content_type: str, size: int) -> dict:
        """A PUT URL signed for exactly this key, type, length and encryption; the headers must be sent."""
        # If-None-Match: * (signed, so it must be sent) makes the URL single-use: S3 answers 412 to a second
        # PUT while the object exists, so the original checked at confirmation is never replaced.
        params = {"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size,
                  "IfNoneMatch": "*", **self._sse()}
        url = self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=UPLOAD_EXPIRES)
        headers = {"Content-Type": content_type, "If-None-Match": "*"}
        if self.kms_key_id:
            headers["x-amz-server-side-encryption"] = "aws:kms"
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        return {"url": url, "method": "PUT", "headers": headers, "expires_in": UPLOAD_EXPIRES}

    def head(self, key: str) -> ObjectInfo | None:
        try:
            found = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(describe_s3_error(exc)) from exc
        except BotoCoreError as exc:
            raise StorageError(describe_s3_error(exc)) from exc
        return ObjectInfo(found["ContentLength"], found.get("ContentType"))

    def get(self, key: str) -> bytes:
        return self._call("get_object", Key=key)["Body"].read()

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE) -> None:
        self._call("put_object", Key=key, Body=data, ContentType=content_type, CacheControl=cache_control,
                   **self._sse())

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            chunk = [{"Key": key} for key in keys[start:start + 1000]]
            self._call("delete_objects", Delete={"Objects": chunk, "Quiet": True})

    def delete_prefix(self, prefix: str) -> None:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(describe_s3_error(exc)) from exc
        self.delete(keys)

    def public_url(self, key: str) -> str:
        """CloudFront when configured; otherwise a presigned GET (the bucket stays private)."""
        if self.cloudfront:
            return f"https://{self.cloudfront}/{quote(key)}"
        return self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key},
                                                  ExpiresIn=URL_EXPIRES)


_CLIENT_SETTINGS = ("AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@lru_cache(maxsize=8)
def _cached_client(*settings):
    """boto3 clients are costly to build and thread-safe to share: one per distinct configuration."""
    return s3_client(dict(zip(_CLIENT_SETTINGS, settings, strict=True)))


class LocalStorage:
    """Objects as files under MEDIA_ROOT (embedded mode); uploads PUT to our own signed endpoint."""

    def __init__(self, cfg: dict):
        self.root = Path(cfg["MEDIA_ROOT"])
        self.cloudfront = cfg.get("CLOUDFRONT_DOMAIN")
        self.signer = URLSafeTimedSerializer(cfg["SECRET_KEY"], salt="covet.media.upload")

    def path(self, key: str) -> Path:
        joined = safe_join(str(self.root), key)
        if joined is None or not key:
            raise StorageError(f"unsafe object key {key!r}")
        return Path(joined)

    def presign_upload(self, key: str, content_type: str, size: int) -> dict:
        token = self.signer.dumps({"key": key, "type": content_type, "size": size})
        return {"url": url_for("media.local_upload", token=token), "method": "PUT",
                "headers": {"Content-Type": content_type}, "expires_in": UPLOAD_EXPIRES}

    def read_upload_token(self, token: str) -> dict | None:
        """The upload a token allows, or None when it is forged or older than UPLOAD_EXPIRES."""
        try:
            return self.signer.loads(token, max_age=UPLOAD_EXPIRES)
        except (SignatureExpired, BadSignature):
            return None

    def head(self, key: str) -> ObjectInfo | None:
        path = self.path(key)
        return ObjectInfo(path.stat().st_size, None) if path.is_file() else None

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError("The file is missing from storage.") from exc

    def put(self, key: str, data: bytes, content_type: str, cache_control: str = IMMUTABLE) -> None:
        try:
            self.write_stream(key, io.BytesIO(data), len(data))
        except OSError as exc:  # disk full, permissions: the caller answers like for S3, not with a 500
            raise StorageError(f"The file could not be written: {exc.strerror or exc}.") from exc

    def write_stream(self, key: str, stream, size: int, exclusive: bool = False) -> None:
        """Copy exactly `size` bytes from `stream` to the key, atomically; a short body is refused.

        `exclusive`: only if the key does not exist yet (an upload link is single-use, as on S3)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while written <= size:
                    chunk = stream.read(min(1 << 20, size + 1 - written))
                    if not chunk:
                        break
                    out.write(chunk)
                    written += len(chunk)
            if written != size:
                raise StorageError(f"expected {size} bytes, received {written}")
            if exclusive:
                _link_new(tmp, path)
            else:
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self.path(key)
            path.unlink(missing_ok=True)
            self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> None:
        folder = self.path(prefix.rstrip("/"))
        shutil.rmtree(folder, ignore_errors=True)
        self._prune(folder.parent)

    def _prune(self, folder: Path) -> None:
        """Remove empty folders up to MEDIA_ROOT."""
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def public_url(self, key: str) -> str:
        if self.cloudfront:
            return f"https://{self.cloudfront}/media/{quote(key)}"
        return url_for("media.media_file", key=key)


def _link_new(tmp: str, path: Path) -> None:
    """Give the written file its name only if nothing has it (atomic: of two racing PUTs, one wins)."""
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        raise UploadUsedError("This upload link was already used: upload the image again.") from exc


def get_storage(cfg: dict | None = None) -> S3Storage | LocalStorage:
    """The configured backend."""
    cfg = cfg if cfg is not None else current_app.config
    return S3Storage(cfg) if cfg.get("AWS_S3_BUCKET") else LocalStorage(cfg)
