"""Stripe Connect for stores: an Express account per store, its onboarding links, and its flags kept in sync."""
from __future__ import annotations

import uuid

from flask import current_app
from sqlalchemy import select

from covet.accounts.models import User
from covet.audit.services import Actor, record
from covet.errors import NotFoundError
from covet.extensions import db
from covet.observability import get_logger
from covet.payments import gateway
from covet.payments.gateway import PaymentsDisabledError
from covet.stores.models import Store

CONNECT_FLAGS = ("charges_enabled", "payouts_enabled", "details_submitted")
CONNECT_DISABLED = "Payments are disabled: set STRIPE_SECRET_KEY to set up payouts with Stripe."
STATUS_LABELS = {"not_connected": "Not connected", "incomplete": "Onboarding incomplete",
                 "enabled": "Charges & payouts enabled"}


def stripe_enabled() -> bool:
    """True when Stripe is configured (STRIPE_SECRET_KEY set)."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def connect_status(store: Store) -> str:
    """not_connected | incomplete | enabled (see STATUS_LABELS)."""
    if not store.stripe_account_id:
        return "not_connected"
    return "enabled" if store.charges_enabled and store.payouts_enabled else "incomplete"


def store_for(actor: Actor, store_id: int) -> Store:
    """The store if this actor may act on it (merchants: their own only), else NotFoundError."""
    store = db.session.get(Store, store_id)
    if store is None or (actor.role == "merchant" and actor.store_id != store.id):
        raise NotFoundError(f"store {store_id}")
    return store


def start_onboarding(store_id: int, actor: Actor, return_url: str, refresh_url: str) -> str:
    """Create the store's Express account once, then a fresh onboarding link; return the link's URL."""
    if not stripe_enabled():
        raise PaymentsDisabledError(CONNECT_DISABLED)
    store = store_for(actor, store_id)
    if not store.stripe_account_id:
        _create_account(store, actor)
    link = gateway.call("/v1/account_links", "post",
                        {"account": store.stripe_account_id, "type": "account_onboarding",
                         "return_url": return_url, "refresh_url": refresh_url},
                        idempotency_key=f"account-link:{store.id}:{uuid.uuid4().hex}")  # links are single-use
    record(actor, "store.connect_onboarding_started", "store", store.id, store_id=store.id,
           after={"stripe_account_id": store.stripe_account_id})
    db.session.commit()
    return link["url"]


def _create_account(store: Store, actor: Actor) -> None:
    # The key and the params depend on the store id alone, so a retry (or a second click racing the first)
    # gets the same account back from Stripe instead of a second one.
    account = gateway.call("/v1/accounts", "post",
                           {"type": "express", "metadata": {"store_id": store.id},
                            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}}},
                           idempotency_key=f"connect-account:{store.id}")
    store.stripe_account_id = account["id"]
    _apply_flags(store, account)
    record(actor, "store.connect_account_created", "store", store.id, before={"stripe_account_id": None},
           after={"stripe_account_id": account["id"]}, store_id=store.id)
    db.session.commit()  # keep the account even if the link call that follows fails


def _flags(store: Store) -> dict:
    return {flag: getattr(store, flag) for flag in CONNECT_FLAGS}


def _apply_flags(store: Store, account: dict) -> None:
    for flag in CONNECT_FLAGS:
        setattr(store, flag, bool(account.get(flag)))


def sync_store_account(account) -> Store | None:
    """Copy a Stripe account's charges/payouts/details flags onto its store; the caller commits.

    `account` is a Stripe account as a dict (an event's data.object) or a stripe-python object."""
    if not isinstance(account, dict):
        account = account.to_dict()
    store = db.session.scalar(select(Store).where(Store.stripe_account_id == account.get("id")))
    if store is None:
        get_logger("covet.stores").warning("account_for_unknown_store", extra={"account": account.get("id")})
        return None
    before = _flags(store)
    _apply_flags(store, account)
    if _flags(store) != before:
        record(Actor.system("stripe"), "store.connect_synced", "store", store.id, before=before, after=_flags(store),
               store_id=store.id)
    db.session.flush()
    if store.payouts_enabled:  # transfers booked while it could not receive them go out now (after commit)
        from covet.payments.transfers import release_waiting_transfers

        release_waiting_transfers(store.id)
    return store


def refresh_store_account(store_id: int) -> Store:
    """Fetch the store's account from Stripe and sync its flags (commits); a store never connected is unchanged."""
    store = db.session.get(Store, store_id)
    if store is None:
        raise NotFoundError(f"store {store_id}")
    if store.stripe_account_id:
        if not stripe_enabled():
            raise PaymentsDisabledError(CONNECT_DISABLED)
        sync_store_account(gateway.call(f"/v1/accounts/{store.stripe_account_id}"))
        db.session.commit()
    return store


def store_contacts(store_ids) -> set[str]:
    """Who hears about a store's money and disputes: its active merchants and its support address.

    `store_ids` is a list of ids or a select of them."""
    merchants = db.session.scalars(select(User.email).where(User.active.is_(True), User.role == "merchant",
                                                            User.store_id.in_(store_ids)))
    support = db.session.scalars(select(Store.support_email).where(Store.id.in_(store_ids)))
    return set(merchants) | {email for email in support if email}
