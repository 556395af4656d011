"""One configured boto3 S3 client: timeouts, retries, SigV4, optional local endpoint."""
from __future__ import annotations

import boto3
from botocore.config import Config


def s3_client(cfg: dict):
    """An S3 client for the configured region (and AWS_ENDPOINT_URL for a local S3).

    Virtual-hosted addressing on AWS makes presigned URLs use the regional host
    (https://BUCKET.s3.REGION.amazonaws.com), the one the CSP allows; botocore's default would sign for
    the global host, which redirects for newer regions and breaks a browser's cross-origin PUT.
    A local endpoint (moto, MinIO) on an IP address needs path-style URLs.
    """
    endpoint = cfg.get("AWS_ENDPOINT_URL")
    return boto3.client(
        "s3",
        region_name=cfg.get("AWS_REGION"),
        endpoint_url=endpoint,
        aws_access_key_id=cfg.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=cfg.get("AWS_SECRET_ACCESS_KEY"),
        config=Config(signature_version="s3v4", connect_timeout=3, read_timeout=10,
                      retries={"max_attempts": 3, "mode": "standard"},
                      s3={"addressing_style": "path" if endpoint else "virtual"}),
    )
