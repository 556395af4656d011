"""The one place Covet talks to Stripe: timeouts, retries on network errors, idempotency keys,
and Stripe's errors turned into messages a person can act on."""
from __future__ import annotations

import io
from typing import Any

import stripe
from flask import current_app

TIMEOUT = 10  # seconds per request; stripe-python retries network errors and 409/429/5xx itself
NETWORK_RETRIES = 2


class PaymentsDisabledError(RuntimeError):
    """STRIPE_SECRET_KEY is not set: checkout and Connect are off (Stripe is optional)."""


class GatewayError(RuntimeError):
    """A Stripe call failed; `message` is for people, `retryable` says whether trying later may help."""

    def __init__(self, message: str, code: str | None = None, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.message, self.code, self.retryable, self.status = message, code, retryable, status


def client() -> stripe.StripeClient:
    """A StripeClient for this app (cached); STRIPE_API_BASE / STRIPE_FILES_BASE point it at a local peer in tests."""
    cfg = current_app.config
    if not cfg.get("STRIPE_SECRET_KEY"):
        raise PaymentsDisabledError("Payments are disabled: set STRIPE_SECRET_KEY to enable Stripe Checkout.")
    cached = current_app.extensions.get("covet_stripe")
    if cached is None:
        bases = {name: cfg[var] for name, var in (("api", "STRIPE_API_BASE"), ("files", "STRIPE_FILES_BASE"))
                 if cfg.get(var)} or None
        cached = stripe.StripeClient(cfg["STRIPE_SECRET_KEY"], base_addresses=bases,
                                     max_network_retries=NETWORK_RETRIES,
                                     http_client=stripe.RequestsClient(timeout=TIMEOUT))
        current_app.extensions["covet_stripe"] = cached
    return cached


def _explain(exc: stripe.StripeError) -> GatewayError:
    status = getattr(exc, "http_status", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, stripe.CardError):
        return GatewayError(f"The card was declined: {exc.user_message or exc}", code, False, status)
    if isinstance(exc, stripe.AuthenticationError):
        return GatewayError("Stripe rejected the API key: check STRIPE_SECRET_KEY.", code, False, status)
    if isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError):
        return GatewayError("Stripe could not be reached or is busy; try again shortly.", code, True, status)
    if isinstance(exc, stripe.InvalidRequestError):
        return GatewayError(f"Stripe refused the request: {exc.user_message or exc}", code, False, status)
    return GatewayError(f"Stripe error: {exc.user_message or exc}", code, bool(status and status >= 500), status)


def call(path: str, method: str = "get", params: dict | None = None, idempotency_key: str | None = None,
         stripe_account: str | None = None) -> dict[str, Any]:
    """Call a Stripe endpoint (e.g. call("/v1/refunds", "post", {...}, idempotency_key=…)); a plain dict back.

    Every create must pass an idempotency key so a retried job or request never charges, refunds or
    transfers twice."""
    if method == "post" and idempotency_key is None:
        raise ValueError("every Stripe create needs an idempotency key")
    options: dict[str, Any] = {}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    if stripe_account:
        options["stripe_account"] = stripe_account
    try:
        response = client().raw_request(method, path, **(params or {}), **options)
    except stripe.StripeError as exc:
        raise _explain(exc) from exc
    return client().deserialize(response, api_mode="V1").to_dict()


def upload_file(content: bytes, filename: str, purpose: str, idempotency_key: str) -> dict[str, Any]:
    """Upload a file to Stripe's files host (e.g. purpose="dispute_evidence"); the File object as a plain dict.

    Sent as multipart/form-data like stripe-python's files.create, with the same timeout, retries and
    error messages as `call`; the key makes a retried upload return the first File instead of a second one."""
    if not idempotency_key:
        raise ValueError("every Stripe create needs an idempotency key")
    upload = io.BytesIO(content)
    upload.name = filename  # stripe-python names the file part after it
    try:
        response = client().raw_request("post", "/v1/files", purpose=purpose, file=upload, base="files",
                                        content_type="multipart/form-data", idempotency_key=idempotency_key)
    except stripe.StripeError as exc:
        raise _explain(exc) from exc
    return client().deserialize(response, api_mode="V1").to_dict()
