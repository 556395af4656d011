"""One configured boto3 S3 client: timeouts, retries, SigV4, optional local endpoint."""
from __future__ import annotations

import boto3
from botocore.config import Config


def s3_client(cfg: dict):
    """An S3 client for the configured region (and AWS_ENDPOINT_URL for a local S3)."""
    return boto3.client(
        "s3",
        region_name=cfg.get("AWS_REGION"),
        endpoint_url=cfg.get("AWS_ENDPOINT_URL"),
        aws_access_key_id=cfg.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=cfg.get("AWS_SECRET_ACCESS_KEY"),
        config=Config(signature_version="s3v4", connect_timeout=3, read_timeout=10,
                      retries={"max_attempts": 3, "mode": "standard"}),
    )
