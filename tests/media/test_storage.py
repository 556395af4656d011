"""Storage backends: presigned PUT with SSE-KMS over real HTTP to moto, long-cache writes, URLs, deletion,
the seed's S3 errors (Stubber), and the local-disk upload endpoint with its signed token."""
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.stub import Stubber

from covet.extensions import db
from covet.media import storage as storage_module
from covet.media.models import Media
from covet.media.storage import IMMUTABLE, LocalStorage, S3Storage, StorageError, get_storage


def test_presigned_put_is_signed_for_type_length_and_kms_and_uploads_over_http(app, s3):
    store = get_storage()
    assert isinstance(store, S3Storage)
    upload = store.presign_upload("products/1/abc/original.jpg", "image/jpeg", 11)

    query = parse_qs(urlsplit(upload["url"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host;if-none-match;"
                                            "x-amz-server-side-encryption;x-amz-server-side-encryption-aws-kms-key-id"]
    assert "acl" not in upload["url"].lower() and not any("acl" in h.lower() for h in upload["headers"])
    assert upload["headers"] == {"Content-Type": "image/jpeg", "If-None-Match": "*",
                                 "x-amz-server-side-encryption": "aws:kms",
                                 "x-amz-server-side-encryption-aws-kms-key-id": s3.kms_key_arn}

    response = requests.put(upload["url"], data=b"hello world", headers=upload["headers"], timeout=10)
    assert response.status_code == 200, response.text
    head = s3.client.head_object(Bucket=s3.bucket, Key="products/1/abc/original.jpg")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == s3.kms_key_arn
    assert head["ContentType"] == "image/jpeg"


def test_presigned_put_without_kms_key_sends_no_sse_headers(app, s3):
    app.config["AWS_S3_SSE_KMS_KEY_ID"] = None
    upload = get_storage().presign_upload("products/1/abc/original.png", "image/png", 3)
    assert upload["headers"] == {"Content-Type": "image/png", "If-None-Match": "*"}
    assert "x-amz-server-side-encryption" not in upload["url"]


def test_put_writes_immutable_cache_control_with_kms(app, s3):
    get_storage().put("products/1/abc/800.webp", b"RIFF", "image/webp")
    head = s3.client.head_object(Bucket=s3.bucket, Key="products/1/abc/800.webp")
    assert head["CacheControl"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "image/webp"
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", s3.kms_key_arn)


def test_public_urls_go_through_cloudfront_when_set_else_a_presigned_get(app, s3):
    get_storage().put("products/1/abc/320.webp", b"tiny", "image/webp")
    url = get_storage().public_url("products/1/abc/320.webp")
    assert "X-Amz-Signature=" in url  # private bucket: a signed GET
    assert requests.get(url, timeout=10).content == b"tiny"
    app.config["CLOUDFRONT_DOMAIN"] = "d111111abcdef8.cloudfront.net"
    assert get_storage().public_url("products/1/abc/320.webp") == \
        "https://d111111abcdef8.cloudfront.net/products/1/abc/320.webp"


def test_delete_prefix_and_keys(app, s3):
    store = get_storage()
    for key in ("products/1/a/original.jpg", "products/1/a/800.webp", "products/1/b/original.jpg"):
        store.put(key, b"x", "image/jpeg")
    store.delete_prefix("products/1/a/")
    assert s3.object_keys() == ["products/1/b/original.jpg"]
    store.delete(["products/1/b/original.jpg"])
    assert s3.object_keys() == []
    assert store.head("products/1/b/original.jpg") is None


@pytest.mark.parametrize(("code", "message", "expected"), [
    ("AccessDenied", "User is not authorized to perform: kms:GenerateDataKey on resource", "kms:GenerateDataKey"),
    ("AccessControlListNotSupported", "The bucket does not allow ACLs", "refuses ACLs"),
    ("PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint",
     "another region (eu-west-1)"),
])
def test_the_seeds_s3_errors_become_clear_messages(app, s3, code, message, expected):
    store = get_storage()
    with Stubber(store.client) as stub:
        stub.add_client_error("put_object", service_error_code=code, service_message=message,
                              http_status_code=301 if code == "PermanentRedirect" else 403,
                              response_meta={"HTTPHeaders": {"x-amz-bucket-region": "eu-west-1"}})
        with pytest.raises(StorageError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            store.put("products/1/a/800.webp", b"x", "image/webp")


# --- local disk (embedded mode) ----------------------------------------------------------------------

def test_local_backend_is_the_default_and_presigns_our_own_endpoint(app):
    store = get_storage()
    assert isinstance(store, LocalStorage)
    with app.test_request_context():
        upload = store.presign_upload("products/1/abc/original.jpg", "image/jpeg", 5)
    assert upload["url"].startswith("/media-uploads/") and upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/jpeg"}


def _local_upload(app, product, size=5, content_type="image/jpeg") -> tuple[str, dict]:
    """A pending image's key and its presigned local PUT (the endpoint writes only for a pending image)."""
    key = f"products/{product.id}/{uuid.uuid4().hex}/original.jpg"
    db.session.add(Media(store_id=product.store_id, product_id=product.id, s3_key=key, filename="a.jpg",
                         content_type=content_type, byte_size=size, status="pending", alt_text="", position=0))
    db.session.commit()
    with app.test_request_context():
        return key, get_storage().presign_upload(key, content_type, size)


def test_local_put_needs_the_exact_type_and_length_it_was_signed_for(app, client, make_product):
    key, upload = _local_upload(app, make_product())
    assert client.put(upload["url"], data=b"12345", headers={"Content-Type": "image/png"}).status_code == 400
    refused = client.put(upload["url"], data=b"123456", headers={"Content-Type": "image/jpeg"})
    assert refused.status_code == 400 and "Content-Length must be 5" in refused.get_data(as_text=True)
    assert get_storage().head(key) is None
    assert client.put(upload["url"], data=b"12345", headers={"Content-Type": "image/jpeg"}).status_code == 200
    assert get_storage().get(key) == b"12345"


def test_local_put_refuses_a_forged_or_expired_token(app, client, monkeypatch, make_product):
    _, upload = _local_upload(app, make_product())
    forged = upload["url"][:-3] + ("abc" if not upload["url"].endswith("abc") else "xyz")
    assert client.put(forged, data=b"12345", headers={"Content-Type": "image/jpeg"}).status_code == 403
    monkeypatch.setattr(storage_module, "UPLOAD_EXPIRES", -1)  # any token is now past its age
    expired = client.put(upload["url"], data=b"12345", headers={"Content-Type": "image/jpeg"})
    assert expired.status_code == 403 and "expired" in expired.get_data(as_text=True)


def test_local_put_needs_no_session_or_csrf_token_but_a_valid_signature(app, client, make_product):
    _, upload = _local_upload(app, make_product(), size=3)
    response = client.put(upload["url"], data=b"abc", headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200


def test_local_renditions_are_served_with_a_year_of_cache_and_originals_never(app, client):
    store = get_storage()
    store.put("products/1/abc/800.webp", b"RIFFxxxxWEBP", "image/webp")
    store.put("products/1/abc/original.jpg", b"\xff\xd8 secret exif", "image/jpeg")
    served = client.get("/media/products/1/abc/800.webp")
    assert served.status_code == 200 and served.data == b"RIFFxxxxWEBP"
    assert served.headers["Cache-Control"] == IMMUTABLE
    assert served.mimetype == "image/webp"
    assert client.get("/media/products/1/abc/original.jpg").status_code == 404
    assert client.get("/media/../secret_key").status_code == 404


def test_local_keys_cannot_escape_the_media_root(app):
    with pytest.raises(StorageError):
        get_storage().put("../outside.txt", b"x", "text/plain")
