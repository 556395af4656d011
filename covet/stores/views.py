"""Stores: list, detail and Stripe Connect onboarding (merchants see and connect only their own)."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from sqlalchemy import func, select

from covet.extensions import db
from covet.orders.models import OrderLine
from covet.payments.gateway import GatewayError, PaymentsDisabledError
from covet.stores import services
from covet.stores.models import Store
from covet.stores.policies import POLICY_FIELDS, POLICY_LIMIT
from covet.web.actor import current_actor
from covet.web.htmx import redirect_after_post, render_page, toast
from covet.web.policy import EVERYONE, STAFF, allow, get_scoped_or_404, store_scope
from covet.web.urls import public_url

bp = Blueprint("stores", __name__, url_prefix="/admin/stores")


@bp.get("/")
@allow(*EVERYONE)
def store_list():
    """Every store for staff; a merchant's own store."""
    stores = db.session.scalars(store_scope(select(Store), Store.id).order_by(Store.name)).all()
    return render_page("stores/list.html", stores=stores)


def _detail(store: Store, http_status: int = 200, connect_error: str | None = None, policy_errors=None,
            policy_form=None):
    from covet.payments.transfers import transfer_summary

    line_count = db.session.scalar(select(func.count()).select_from(OrderLine).where(OrderLine.store_id == store.id))
    status = services.connect_status(store)
    return render_page("stores/detail.html", "store_connect", http_status=http_status, store=store,
                       transfers=transfer_summary(store.id), may_retry=current_actor().role in STAFF,
                       line_count=line_count, connect_status=status, status_label=services.STATUS_LABELS[status],
                       stripe_enabled=services.stripe_enabled(), disabled_message=services.CONNECT_DISABLED,
                       connect_error=connect_error, policy_fields=POLICY_FIELDS, policy_limit=POLICY_LIMIT,
                       policy_errors=policy_errors or {}, policy_form=policy_form)


@bp.get("/<int:store_id>")
@allow(*EVERYONE)
def store_detail(store_id: int):
    """One store: Connect status and figures."""
    return _detail(get_scoped_or_404(Store, store_id, store_column="id"))


@bp.post("/<int:store_id>/policies")
@allow(*EVERYONE)
def store_policies(store_id: int):
    """Save the store's refund, shipping and cancellation policies (its merchants, or staff)."""
    from covet.errors import NotFoundError, ValidationError
    from covet.stores.policies import update_policies

    store = get_scoped_or_404(Store, store_id, store_column="id")
    try:
        update_policies(store.id, current_actor(), {name: request.form.get(name, "") for name in POLICY_FIELDS})
    except NotFoundError:
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return _detail(store, 422, policy_errors=exc.errors, policy_form=request.form)
    toast("Policies saved. Dispute evidence uses them from now on.")
    return redirect_after_post(url_for("stores.store_detail", store_id=store.id) + "#store-policies")


@bp.post("/<int:store_id>/transfers/retry")
@allow(*STAFF)
def transfers_retry(store_id: int):
    """Staff: send again this store's waiting and failed transfers (one Stripe transfer per order, whatever
    else fires too)."""
    from covet.errors import ValidationError
    from covet.payments.transfers import retry_store_transfers

    store = get_scoped_or_404(Store, store_id, store_column="id")
    try:
        queued = retry_store_transfers(store.id, current_actor())
    except ValidationError as exc:
        toast(exc.errors["transfers"], "error")
    else:
        toast(f"Sending the transfers of {queued} order{'s' if queued != 1 else ''} again." if queued
              else "No waiting or failed transfers to send.")
    return redirect_after_post(url_for("stores.store_detail", store_id=store.id) + "#store-transfers")


def _onboarding(store: Store):
    """Send the user to a new Stripe onboarding link, or show why that is not possible."""
    try:
        url = services.start_onboarding(
            store.id, current_actor(),
            return_url=public_url("stores.connect_return", store_id=store.id),
            refresh_url=public_url("stores.connect_refresh", store_id=store.id))
    except PaymentsDisabledError:
        return _detail(store, 422)  # the page says payments are disabled and has no button
    except GatewayError as exc:
        db.session.rollback()
        toast(exc.message, "error")  # a 5xx is not swapped into the page: the toast carries the reason
        return _detail(store, 503 if exc.retryable else 502, exc.message)
    return redirect_after_post(url)


@bp.post("/<int:store_id>/connect")
@allow(*EVERYONE)
def connect_start(store_id: int):
    """Set up payouts: create the store's Stripe account if needed and go to Stripe's onboarding."""
    return _onboarding(get_scoped_or_404(Store, store_id, store_column="id"))


@bp.get("/<int:store_id>/connect/refresh")
@allow(*EVERYONE)
def connect_refresh(store_id: int):
    """Stripe sends the seller here when a link expired or was used: go on with a new link."""
    store = get_scoped_or_404(Store, store_id, store_column="id")
    if not store.stripe_account_id:  # never started: the page has the button
        return redirect(url_for("stores.store_detail", store_id=store.id), code=303)
    return _onboarding(store)


@bp.get("/<int:store_id>/connect/return")
@allow(*EVERYONE)
def connect_return(store_id: int):
    """Back from Stripe: read the account's current flags, then show the store."""
    store = get_scoped_or_404(Store, store_id, store_column="id")
    try:
        services.refresh_store_account(store.id)
    except (PaymentsDisabledError, GatewayError) as exc:
        db.session.rollback()
        flash(getattr(exc, "message", str(exc)), "error")
    else:
        status = services.connect_status(store)
        flash(f"Stripe: {services.STATUS_LABELS[status]}.", "success" if status == "enabled" else "info")
    return redirect(url_for("stores.store_detail", store_id=store.id), code=303)
