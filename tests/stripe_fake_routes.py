"""StripeFake's endpoints (see tests/stripe_peers.py): form parsing, Stripe-shaped errors, and one function
per route, each taking the fake, the parsed params and the path's ids, and returning the object Stripe
would answer with. Shapes follow Stripe's documented v1 objects, trimmed to the fields Covet reads."""
from __future__ import annotations

import re
import secrets
import string
import time

ALNUM = string.ascii_letters + string.digits
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
LINK_SECONDS = 300  # Stripe's Account Links expire after a few minutes
# The description Stripe's error-code list gives balance_insufficient (the live message for a reversal is undocumented).
BALANCE_INSUFFICIENT = ("The transfer or payout couldn't be completed because the associated account doesn't have a "
                        "sufficient balance available. Create a new transfer or payout using an amount less than or "
                        "equal to the account's available balance.")


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(ALNUM) for _ in range(length))}"


def parse_form(pairs: list[tuple[str, str]]) -> dict:
    """metadata[order_id]=7&items[0][qty]=2 → {"metadata": {"order_id": "7"}, "items": [{"qty": "2"}]}."""
    root: dict = {}
    for key, value in pairs:
        parts = [key.split("[", 1)[0], *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1] or str(len(node))] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


class StripeError(Exception):
    """A Stripe-shaped error answer; `saved=False` for validation errors Stripe does not save for a key."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error", saved: bool = True):
        super().__init__(message)
        self.status, self.saved = status, saved
        self.body = {"error": {k: v for k, v in {"type": kind, "code": code, "message": message,
                                                  "param": param}.items() if v is not None}}


def require(params: dict, *names: str) -> None:
    for name in names:
        if params.get(name) in (None, ""):
            raise StripeError(400, f"Missing required param: {name}.", "parameter_missing", name, saved=False)


def positive_int(value, param: str) -> int:
    if not str(value).isdigit() or int(value) == 0:
        raise StripeError(400, f"Invalid positive integer: {value}", "parameter_invalid_integer", param, saved=False)
    return int(value)


def retrieve(kind: str):
    return lambda fake, params, object_id: fake.get(kind, object_id)


def _session_total(items: list[dict]) -> tuple[int, str]:
    total, currency = 0, ""
    for n, item in enumerate(items):
        data = item.get("price_data")
        if not data:
            raise StripeError(400, f"No such price: '{item.get('price')}'", "resource_missing",
                              f"line_items[{n}][price]")
        total += positive_int(data.get("unit_amount"), f"line_items[{n}][price_data][unit_amount]") * \
            positive_int(item.get("quantity", "1"), f"line_items[{n}][quantity]")
        currency = str(data.get("currency", "")).lower()
    return total, currency


def create_session(fake, params: dict) -> dict:
    require(params, "mode", "line_items")
    if params["mode"] != "payment":
        raise StripeError(400, "StripeFake models mode=payment only.", param="mode", saved=False)
    total, currency = _session_total(params["line_items"])
    now, session_id = int(time.time()), new_id("cs_test", 58)
    session = {"id": session_id, "object": "checkout.session", "mode": "payment", "status": "open",
               "payment_status": "unpaid", "amount_subtotal": total, "amount_total": total, "currency": currency,
               "metadata": params.get("metadata", {}), "client_reference_id": params.get("client_reference_id"),
               "customer_email": params.get("customer_email"), "customer_details": None, "payment_intent": None,
               "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"), "created": now,
               "expires_at": int(params.get("expires_at") or now + 86400), "livemode": False,
               "url": f"https://checkout.stripe.com/c/pay/{session_id}"}
    fake.objects[session_id] = session
    fake.intent_data[session_id] = params.get("payment_intent_data", {})
    return session


def list_sessions(fake, params: dict) -> dict:
    found = [o for o in reversed(fake.objects.values()) if o["object"] == "checkout.session"
             and params.get("payment_intent") in (None, o["payment_intent"])]
    limit = positive_int(params.get("limit", "10"), "limit")
    return {"object": "list", "url": "/v1/checkout/sessions", "has_more": len(found) > limit, "data": found[:limit]}


def expire_session(fake, params: dict, session_id: str) -> dict:
    session = fake.get("checkout.session", session_id)
    if session["status"] != "open":
        raise StripeError(400, f"Only Checkout Sessions with a status in [\"open\"] can be expired. "
                               f"This session has a status of \"{session['status']}\".")
    session.update(status="expired", url=None)
    return session


def create_account(fake, params: dict) -> dict:
    require(params, "type")
    if params["type"] != "express":
        raise StripeError(400, "StripeFake models type=express accounts only.", param="type", saved=False)
    requested = [name for name, wanted in params.get("capabilities", {}).items() if wanted.get("requested") == "true"]
    account = {"id": new_id("acct", 16), "object": "account", "type": "express", "email": params.get("email"),
               "country": params.get("country", "US"), "metadata": params.get("metadata", {}),
               "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
               "capabilities": {name: "inactive" for name in requested},
               "requirements": {"currently_due": ["business_type", "external_account", "tos_acceptance.date"],
                                "eventually_due": [], "past_due": [], "disabled_reason": "requirements.past_due"},
               "created": int(time.time()), "livemode": False}
    fake.objects[account["id"]] = account
    return account


def list_accounts(fake, params: dict) -> dict:
    found = [o for o in reversed(fake.objects.values()) if o["object"] == "account"]
    return {"object": "list", "url": "/v1/accounts", "has_more": False, "data": found}


def create_account_link(fake, params: dict) -> dict:
    require(params, "account", "type")
    fake.get("account", params["account"], param="account")
    if params["type"] not in ("account_onboarding", "account_update"):
        raise StripeError(400, f"Invalid type: {params['type']}", param="type", saved=False)
    now, token = int(time.time()), new_id("alu", 16)
    fake.links[token] = {"account": params["account"], "return_url": params.get("return_url"),
                         "refresh_url": params.get("refresh_url"), "expires_at": now + LINK_SECONDS, "visited": False}
    return {"object": "account_link", "created": now, "expires_at": now + LINK_SECONDS,
            "url": f"{fake.url}/setup/e/{params['account']}/{token}"}


def visit_account_link(fake, params: dict, account_id: str, token: str) -> tuple[int, str]:
    """The hosted onboarding page: back to return_url the first time, refresh_url once used or expired."""
    link = fake.links.get(token)
    if link is None or link["account"] != account_id:
        raise StripeError(404, "This link is invalid.")
    fresh = not link["visited"] and time.time() < link["expires_at"]
    link["visited"] = True
    return 302, link["return_url"] if fresh else link["refresh_url"]


def create_transfer(fake, params: dict) -> dict:
    require(params, "amount", "currency", "destination")
    amount = positive_int(params["amount"], "amount")
    destination = fake.get("account", params["destination"], param="destination")
    if destination["capabilities"].get("transfers") != "active":
        raise StripeError(400, "Your destination account needs to have at least one of the following capabilities "
                               "enabled: transfers, crypto_transfers, legacy_payments",
                          "insufficient_capabilities_for_transfer", "destination")
    if params.get("source_transaction"):
        fake.get("charge", params["source_transaction"], param="source_transaction")
    transfer = {"id": new_id("tr"), "object": "transfer", "amount": amount, "amount_reversed": 0,
                "currency": params["currency"].lower(), "destination": destination["id"],
                "destination_payment": new_id("py"), "transfer_group": params.get("transfer_group"),
                "source_transaction": params.get("source_transaction"), "metadata": params.get("metadata", {}),
                "description": params.get("description"), "reversed": False, "balance_transaction": new_id("txn"),
                "created": int(time.time()), "livemode": False}
    transfer["reversals"] = {"object": "list", "data": [], "has_more": False, "total_count": 0,
                             "url": f"/v1/transfers/{transfer['id']}/reversals"}
    fake.objects[transfer["id"]] = transfer
    if destination["id"] in fake.account_balance:  # a tracked balance grows with what is transferred in
        fake.account_balance[destination["id"]] += amount
    return transfer


def create_reversal(fake, params: dict, transfer_id: str) -> dict:
    transfer = fake.get("transfer", transfer_id)
    remaining = transfer["amount"] - transfer["amount_reversed"]
    if remaining == 0:
        raise StripeError(400, f"Transfer {transfer_id} has already been fully reversed.")
    amount = positive_int(params["amount"], "amount") if "amount" in params else remaining
    if amount > remaining:
        raise StripeError(400, f"Transfer reversal amount ({amount}) is greater than unreversed amount on transfer "
                               f"({remaining})", param="amount")
    available = fake.account_balance.get(transfer["destination"])
    if available is not None and amount > available:
        raise StripeError(400, BALANCE_INSUFFICIENT, "balance_insufficient")
    if available is not None:
        fake.account_balance[transfer["destination"]] -= amount
    reversal = {"id": new_id("trr"), "object": "transfer_reversal", "amount": amount,
                "currency": transfer["currency"], "transfer": transfer_id, "metadata": params.get("metadata", {}),
                "balance_transaction": new_id("txn"), "destination_payment_refund": new_id("pyr"),
                "source_refund": None, "created": int(time.time())}
    fake.objects[reversal["id"]] = reversal
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    listed = transfer["reversals"]
    listed["data"].insert(0, reversal)
    listed["total_count"] = len(listed["data"])
    return reversal


def list_reversals(fake, params: dict, transfer_id: str) -> dict:
    found = fake.get("transfer", transfer_id)["reversals"]
    limit = positive_int(params.get("limit", "10"), "limit")
    return dict(found, has_more=len(found["data"]) > limit, data=found["data"][:limit])


def retrieve_reversal(fake, params: dict, transfer_id: str, reversal_id: str) -> dict:
    reversal = fake.get("transfer_reversal", reversal_id)
    if reversal["transfer"] != fake.get("transfer", transfer_id)["id"]:
        raise StripeError(404, f"No such transfer_reversal: '{reversal_id}'", "resource_missing", "id")
    return reversal


def _refundable_charge(fake, params: dict) -> dict:
    if params.get("charge"):
        return fake.get("charge", params["charge"], param="charge")
    require(params, "payment_intent")
    intent = fake.get("payment_intent", params["payment_intent"], param="payment_intent")
    if intent["status"] != "succeeded" or not intent["latest_charge"]:
        raise StripeError(400, f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                          param="payment_intent")
    return fake.objects[intent["latest_charge"]]


def create_refund(fake, params: dict) -> dict:
    charge = _refundable_charge(fake, params)
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining == 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.", "charge_already_refunded")
    amount = positive_int(params["amount"], "amount") if "amount" in params else remaining
    if amount > remaining:
        raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                          "amount_too_large", "amount")
    if params.get("reason") and params["reason"] not in REFUND_REASONS:
        raise StripeError(400, f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason",
                          saved=False)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    refund = {"id": new_id("re"), "object": "refund", "amount": amount, "charge": charge["id"],
              "payment_intent": charge["payment_intent"], "currency": charge["currency"],
              "reason": params.get("reason"), "status": "succeeded", "metadata": params.get("metadata", {}),
              "balance_transaction": new_id("txn"), "created": int(time.time())}
    fake.objects[refund["id"]] = refund
    return refund



FILE_EVIDENCE = ("cancellation_policy", "customer_communication", "customer_signature",
                 "duplicate_charge_documentation", "receipt", "refund_policy", "service_documentation",
                 "shipping_documentation", "uncategorized_file")
TEXT_EVIDENCE = ("access_activity_log", "billing_address", "cancellation_policy_disclosure", "cancellation_rebuttal",
                 "customer_email_address", "customer_name", "customer_purchase_ip", "duplicate_charge_explanation",
                 "duplicate_charge_id", "product_description", "refund_policy_disclosure", "refund_refusal_explanation",
                 "service_date", "shipping_address", "shipping_carrier", "shipping_date", "shipping_tracking_number",
                 "uncategorized_text")
TEXT_LIMIT, TEXT_TOTAL_LIMIT = 20_000, 150_000  # per field (Stripe documents it for the long ones) / combined
ANSWERABLE = {"needs_response": "under_review", "warning_needs_response": "warning_under_review"}  # → once submitted
CLOSED = ("won", "lost", "warning_closed", "prevented")


def empty_evidence() -> dict:
    return {**dict.fromkeys(sorted(FILE_EVIDENCE + TEXT_EVIDENCE)), "enhanced_evidence": {}}


def retrieve_dispute(fake, params: dict, dispute_id: str) -> dict:
    return fake.get("dispute", dispute_id)


def _answerable(dispute: dict) -> None:
    """Refuse evidence for a dispute already submitted or closed, or one the card network lets nobody answer."""
    status = dispute["status"]
    if status in CLOSED:
        raise StripeError(400, f"This dispute is already closed (status: {status}); it can no longer be updated.")
    if status not in ANSWERABLE:
        raise StripeError(400, f"Evidence for this dispute has already been submitted (status: {status}); it can "
                               f"no longer be updated.")
    if dispute["evidence_details"]["due_by"] == 0:  # Stripe: 0 when the bank doesn't allow a response
        raise StripeError(400, "The card network does not allow a response to this dispute.")


def _staged_evidence(fake, dispute: dict, given) -> dict:
    if not isinstance(given, dict):
        raise StripeError(400, "Invalid object", param="evidence", saved=False)
    evidence = dict(dispute["evidence"])
    for field, value in given.items():
        param = f"evidence[{field}]"
        if field in ("appeal", "enhanced_evidence"):
            raise StripeError(400, f"StripeFake does not model {param}.", param=param, saved=False)
        if field not in FILE_EVIDENCE + TEXT_EVIDENCE:
            raise StripeError(400, f"Received unknown parameter: {param}", "parameter_unknown", param, saved=False)
        if not isinstance(value, str):
            raise StripeError(400, "Invalid string", param=param, saved=False)
        if field in FILE_EVIDENCE and value:
            found = fake.objects.get(value)
            if found is None or found["object"] != "file" or found["purpose"] != "dispute_evidence":
                raise StripeError(400, f"No such file upload: '{value}'", "resource_missing", param, saved=False)
        if field in TEXT_EVIDENCE and len(value) > TEXT_LIMIT:
            raise StripeError(400, f"Invalid string: {value[:20]}...; must be at most {TEXT_LIMIT} characters",
                              param=param, saved=False)
        evidence[field] = value or None  # an empty value unsets the field
    if sum(len(evidence[f] or "") for f in TEXT_EVIDENCE) > TEXT_TOTAL_LIMIT:
        raise StripeError(400, f"The combined character count of all evidence fields is limited to "
                               f"{TEXT_TOTAL_LIMIT:,}.", param="evidence", saved=False)
    return evidence


def _boolean(value, param: str) -> bool:
    if value not in ("true", "false"):
        raise StripeError(400, f"Invalid boolean: {value}", param=param, saved=False)
    return value == "true"


def _merged_metadata(current: dict, given) -> dict:
    if given == "":  # posting an empty metadata unsets every key
        return {}
    if not isinstance(given, dict):
        raise StripeError(400, "Invalid object", param="metadata", saved=False)
    merged = {**current, **given}
    return {k: v for k, v in merged.items() if v != ""}


def update_dispute(fake, params: dict, dispute_id: str) -> dict:
    """Stage or submit evidence (submit defaults to true, as on Stripe) and/or change metadata."""
    dispute = fake.get("dispute", dispute_id)
    submit = _boolean(params["submit"], "submit") if "submit" in params else "evidence" in params
    if "evidence" in params or "submit" in params:
        evidence = _staged_evidence(fake, dispute, params.get("evidence", {}))
        _answerable(dispute)
        details = dispute["evidence_details"]
        dispute["evidence"] = evidence
        details["has_evidence"] = any(v for k, v in evidence.items() if k != "enhanced_evidence")
        if submit:
            dispute["status"] = ANSWERABLE[dispute["status"]]
            details["submission_count"] += 1
            details["past_due"] = bool(details["due_by"]) and time.time() > details["due_by"]
    if "metadata" in params:
        dispute["metadata"] = _merged_metadata(dispute["metadata"], params["metadata"])
    return dispute


def close_dispute(fake, params: dict, dispute_id: str) -> dict:
    """Accept the dispute: a chargeback closes as lost, an inquiry (warning_*) as warning_closed."""
    dispute = fake.get("dispute", dispute_id)
    if dispute["status"] in CLOSED:
        raise StripeError(400, f"This dispute is already closed (status: {dispute['status']}).")
    if dispute["status"] not in ANSWERABLE:
        raise StripeError(400, f"Evidence for this dispute has already been submitted (status: "
                               f"{dispute['status']}); it can no longer be closed.")
    dispute["status"] = "warning_closed" if dispute["status"].startswith("warning_") else "lost"
    return dispute



FILE_PURPOSES = ("account_requirement", "additional_verification", "business_icon", "business_logo",
                 "customer_signature", "dispute_evidence", "identity_document", "issuing_regulatory_reporting",
                 "pci_document", "platform_terms_of_service", "tax_document_user_upload", "terminal_android_apk",
                 "terminal_reader_splashscreen", "terminal_wifi_certificate", "terminal_wifi_private_key")
MB = 1024 * 1024
# Types and sizes from Stripe's file upload guide, for the purposes it lists them; others are not checked.
IMAGE_OR_PDF = ("pdf", "jpg", "png")
FILE_RULES = {"account_requirement": (IMAGE_OR_PDF, 16 * MB), "business_icon": (("jpg", "png", "gif"), MB // 2),
              "business_logo": (("jpg", "png", "gif"), MB // 2), "customer_signature": (("jpg", "png", "svg"), 4 * MB),
              "dispute_evidence": (IMAGE_OR_PDF, 5 * MB), "identity_document": (IMAGE_OR_PDF, 16 * MB)}
TYPE_NAMES = {"pdf": "PDF", "jpg": "JPEG", "png": "PNG", "gif": "GIF", "svg": "SVG"}


def sniff_type(content: bytes, filename: str) -> str | None:
    """The file's type from its first bytes, as Stripe reports it (pdf, jpg, png, …); the extension as a fallback."""
    for magic, kind in ((b"%PDF-", "pdf"), (b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"),
                        (b"GIF87a", "gif"), (b"GIF89a", "gif")):
        if content.startswith(magic):
            return kind
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    if ext in ("pdf", "jpg", "jpeg", "png", "gif"):  # named like one but not one inside: not a usable file
        return None
    return ext or None


def create_file(fake, params: dict) -> dict:
    require(params, "purpose", "file")
    purpose, upload = params["purpose"], params["file"]
    if purpose not in FILE_PURPOSES:
        raise StripeError(400, f"Invalid purpose: must be one of {', '.join(FILE_PURPOSES)}", param="purpose",
                          saved=False)
    if not isinstance(upload, dict):  # a plain form field, not a file part
        raise StripeError(400, "Invalid file: must be uploaded as a multipart/form-data file part.", param="file",
                          saved=False)
    content, filename = upload["content"], upload["filename"] or "blob"
    kind = sniff_type(content, filename)
    if purpose in FILE_RULES:
        kinds, limit = FILE_RULES[purpose]
        if kind not in kinds:
            allowed = ", ".join(TYPE_NAMES[k] for k in kinds)
            raise StripeError(400, f"The file you uploaded ({filename}) is not a supported type for purpose {purpose}; "
                                   f"supported types: {allowed}.", param="file", saved=False)
        if len(content) > limit:
            raise StripeError(400, f"The file you uploaded ({filename}) is too large: files for purpose {purpose} can "
                                   f"be at most {limit / MB:g} MB.", param="file", saved=False)
    file_id = new_id("file")
    uploaded = {"id": file_id, "object": "file", "purpose": purpose, "filename": filename, "size": len(content),
                "type": kind, "title": None, "url": None, "expires_at": None, "created": int(time.time()),
                "links": {"object": "list", "data": [], "has_more": False, "url": f"/v1/file_links?file={file_id}"}}
    fake.objects[file_id] = uploaded
    fake.file_contents[file_id] = content
    return uploaded


ID = r"([A-Za-z0-9_]+)"
ROUTES = [
    ("POST", r"/v1/checkout/sessions", create_session),
    ("GET", r"/v1/checkout/sessions", list_sessions),
    ("GET", rf"/v1/checkout/sessions/{ID}", retrieve("checkout.session")),
    ("POST", rf"/v1/checkout/sessions/{ID}/expire", expire_session),
    ("POST", r"/v1/accounts", create_account),
    ("GET", r"/v1/accounts", list_accounts),
    ("GET", rf"/v1/accounts/{ID}", retrieve("account")),
    ("POST", r"/v1/account_links", create_account_link),
    ("GET", rf"/setup/e/{ID}/{ID}", visit_account_link),
    ("POST", r"/v1/transfers", create_transfer),
    ("GET", rf"/v1/transfers/{ID}", retrieve("transfer")),
    ("POST", rf"/v1/transfers/{ID}/reversals", create_reversal),
    ("GET", rf"/v1/transfers/{ID}/reversals", list_reversals),
    ("GET", rf"/v1/transfers/{ID}/reversals/{ID}", retrieve_reversal),
    ("GET", rf"/v1/disputes/{ID}", retrieve_dispute),
    ("POST", rf"/v1/disputes/{ID}", update_dispute),
    ("POST", rf"/v1/disputes/{ID}/close", close_dispute),
    ("GET", rf"/v1/payment_intents/{ID}", retrieve("payment_intent")),
    ("POST", r"/v1/refunds", create_refund),
    ("POST", r"/v1/files", create_file),
    ("GET", rf"/v1/files/{ID}", retrieve("file")),
]
