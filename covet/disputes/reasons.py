"""Stripe's dispute reasons in words, its evidence fields, and which fields answer which reason.

Field names, kinds (text or file) and meanings follow Stripe's dispute object (`evidence`). A file field holds
the id of a Stripe File (purpose `dispute_evidence`); Covet keeps the file first (`DisputeFile`).
"""
from __future__ import annotations

from dataclasses import dataclass

REASON_LABELS: dict[str, str] = {
    "bank_cannot_process": "Bank cannot process",
    "check_returned": "Check returned",
    "credit_not_processed": "Credit not processed",
    "customer_initiated": "Customer initiated",
    "debit_not_authorized": "Debit not authorized",
    "duplicate": "Duplicate",
    "fraudulent": "Fraudulent",
    "general": "General",
    "incorrect_account_details": "Incorrect account details",
    "insufficient_funds": "Insufficient funds",
    "noncompliant": "Noncompliant",
    "product_not_received": "Product not received",
    "product_unacceptable": "Product unacceptable",
    "subscription_canceled": "Subscription canceled",
    "unrecognized": "Unrecognized",
}


def reason_label(code: str | None) -> str:
    """'product_not_received' → 'Product not received'; a reason Stripe adds later reads as its own words."""
    if not code:
        return "Unknown"
    return REASON_LABELS.get(code, code.replace("_", " ").capitalize())


@dataclass(frozen=True)
class EvidenceField:
    name: str
    label: str
    kind: str  # "text" or "file"
    hint: str

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


def _field(name: str, label: str, kind: str, hint: str) -> tuple[str, EvidenceField]:
    return name, EvidenceField(name, label, kind, hint)


# In the order Stripe's dashboard groups them: who the customer is, what was sold, shipping, policies, the rest.
EVIDENCE_FIELDS: dict[str, EvidenceField] = dict([
    _field("customer_name", "Customer name", "text", "The name the customer gave at checkout."),
    _field("customer_email_address", "Customer email address", "text", "The email the order was placed with."),
    _field("customer_purchase_ip", "Customer purchase IP", "text", "The IP address the order was placed from."),
    _field("billing_address", "Billing address", "text", "The card's billing address, if you know it."),
    _field("customer_signature", "Customer signature", "file", "A signed delivery receipt or contract."),
    _field("access_activity_log", "Access activity log", "text",
           "Logins, downloads or other activity showing the customer used what they bought."),
    _field("product_description", "Product description", "text", "What was sold: items, variants, quantities."),
    _field("receipt", "Receipt", "file", "The order as the customer saw it: lines, prices, payment."),
    _field("customer_communication", "Customer communication", "file",
           "Emails and messages with the customer about this order."),
    _field("service_date", "Service date", "text", "When a service was provided (not used for goods)."),
    _field("service_documentation", "Service documentation", "file", "Proof a service was provided."),
    _field("shipping_carrier", "Shipping carrier", "text", "Who carried the parcel (e.g. DHL)."),
    _field("shipping_tracking_number", "Shipping tracking number", "text", "The carrier's tracking number(s)."),
    _field("shipping_date", "Shipping date", "text", "When the order shipped (YYYY-MM-DD)."),
    _field("shipping_address", "Shipping address", "text", "Where the order was sent."),
    _field("shipping_documentation", "Shipping documentation", "file",
           "Shipments, tracking links and delivery proof."),
    _field("refund_policy", "Refund policy", "file", "The refund policy the customer agreed to."),
    _field("refund_policy_disclosure", "Refund policy disclosure", "text",
           "How and where the refund policy was shown to the customer."),
    _field("refund_refusal_explanation", "Refund refusal explanation", "text",
           "Why the customer is not owed a refund."),
    _field("cancellation_policy", "Cancellation policy", "file", "The cancellation policy the customer agreed to."),
    _field("cancellation_policy_disclosure", "Cancellation policy disclosure", "text",
           "How and where the cancellation policy was shown to the customer."),
    _field("cancellation_rebuttal", "Cancellation rebuttal", "text",
           "Why the customer's cancellation claim does not hold."),
    _field("duplicate_charge_id", "Duplicate charge ID", "text",
           "The Stripe id of the other charge the customer thinks is a duplicate."),
    _field("duplicate_charge_explanation", "Duplicate charge explanation", "text",
           "Why the two charges are separate purchases."),
    _field("duplicate_charge_documentation", "Duplicate charge documentation", "file",
           "Receipts of both charges showing they are separate."),
    _field("uncategorized_text", "Other information", "text", "Anything else that supports your case."),
    _field("uncategorized_file", "Other file", "file", "Any other document that supports your case."),
])
TEXT_FIELDS = tuple(name for name, spec in EVIDENCE_FIELDS.items() if spec.kind == "text")
FILE_FIELDS = tuple(name for name, spec in EVIDENCE_FIELDS.items() if spec.kind == "file")

# Asked for whatever the reason: who bought, what they were sent, and what we told them.
ALWAYS = ("customer_name", "customer_email_address", "receipt", "customer_communication")
_FRAUD = ("customer_name", "customer_email_address", "customer_purchase_ip", "billing_address", "shipping_address",
          # Prior undisputed orders by the same customer go in uncategorized_text: Stripe's access_activity_log
          # is meant for logins and downloads of digital goods, which Covet does not sell.
          "uncategorized_text")
_NOT_AS_DESCRIBED = ("product_description", "refund_policy", "refund_policy_disclosure",
                     "refund_refusal_explanation")
_GENERAL = ("product_description", "uncategorized_text")
FIELDS_BY_REASON: dict[str, tuple[str, ...]] = {
    "product_not_received": ("shipping_carrier", "shipping_tracking_number", "shipping_date", "shipping_address",
                             "shipping_documentation", "product_description"),
    "fraudulent": _FRAUD,
    "unrecognized": _FRAUD,
    "product_unacceptable": _NOT_AS_DESCRIBED,
    "subscription_canceled": ("cancellation_policy", "cancellation_policy_disclosure", "cancellation_rebuttal",
                              "refund_policy", "refund_refusal_explanation"),
    "credit_not_processed": ("refund_policy", "refund_policy_disclosure", "refund_refusal_explanation"),
    "duplicate": ("duplicate_charge_id", "duplicate_charge_explanation"),
    "general": _GENERAL,
}


def fields_for(reason: str | None) -> tuple[str, ...]:
    """The evidence fields worth filling for a reason, most telling first; unknown reasons get the general set."""
    chosen = FIELDS_BY_REASON.get(reason or "", _GENERAL) + ALWAYS
    return tuple(dict.fromkeys(chosen))
