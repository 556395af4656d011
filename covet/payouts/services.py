"""Payouts from Stripe to connected stores."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from covet.extensions import db
from covet.notifications.services import queue_email
from covet.observability import get_logger
from covet.payouts.models import Payout
from covet.stores.models import Store
from covet.stores.services import store_contacts


def record_payout(obj: dict, account_id: str | None) -> Payout | None:
    """Create or update a payout of a connected account; the store hears about it once when it is paid."""
    store = db.session.scalar(select(Store).where(Store.stripe_account_id == account_id)) if account_id else None
    if store is None:
        get_logger("covet.payouts").warning("payout_for_unknown_account", extra={"account": account_id})
        return None
    payout = db.session.scalar(select(Payout).where(Payout.stripe_payout_id == obj["id"]))
    if payout is None:
        payout = Payout(store_id=store.id, stripe_payout_id=obj["id"], amount=obj["amount"],
                        currency=obj.get("currency", store.currency), status=obj.get("status", "pending"))
        db.session.add(payout)
    if payout.status != "paid":  # "paid" is final: a late in_transit event never undoes it
        payout.status = obj.get("status", payout.status)
    payout.amount = obj["amount"]
    if obj.get("arrival_date"):
        payout.arrival_date = dt.datetime.fromtimestamp(obj["arrival_date"], dt.UTC).date()
    db.session.flush()
    if payout.status == "paid":
        context = {"store_name": store.name, "amount": payout.amount, "currency": payout.currency,
                   "arrival_date": payout.arrival_date.isoformat() if payout.arrival_date else "",
                   "payout_id": payout.stripe_payout_id, "payouts_url": "/admin/payouts/"}
        for email in sorted(store_contacts([store.id])):
            queue_email("seller_payout", email, context, f"payout:{payout.stripe_payout_id}:{email}")
    db.session.commit()
    return payout


