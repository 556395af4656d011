"""A store's refund, shipping and cancellation policies: shown to staff and used as dispute evidence."""
from __future__ import annotations

from covet.audit.services import Actor, record
from covet.errors import ValidationError
from covet.extensions import db
from covet.stores.models import Store
from covet.stores.services import store_for

POLICY_FIELDS = {"refund_policy": "Refund policy", "shipping_policy": "Shipping policy",
                 "cancellation_policy": "Cancellation policy"}
POLICY_LIMIT = 5000  # characters; a dispute's evidence fields hold at most 20,000 each


def update_policies(store_id: int, actor: Actor, values: dict[str, str]) -> Store:
    """Set the policies given (blank clears one); refused whole if any is too long. Audit-logged."""
    store = store_for(actor, store_id)
    cleaned, errors = {}, {}
    for name, label in POLICY_FIELDS.items():
        if name not in values:
            continue
        text = (values[name] or "").replace("\r\n", "\n").strip()
        if len(text) > POLICY_LIMIT:
            errors[name] = f"{label} is {len(text):,} characters; keep it under {POLICY_LIMIT:,}."
        cleaned[name] = text or None
    if errors:
        raise ValidationError(errors)
    before = {name: getattr(store, name) for name in cleaned}
    for name, text in cleaned.items():
        setattr(store, name, text)
    changed = {name: text for name, text in cleaned.items() if before[name] != text}
    if changed:
        record(actor, "store.policies_updated", "store", store.id, before={k: before[k] for k in changed},
               after=changed, store_id=store.id)
    db.session.commit()
    return store
