"""One order's page and the work done on it: ship, refund, cancel, assign, tag, note.

Every action is a real form. Answers: htmx → the refreshed detail (or the queue row, for `context=row`)
with the tab counts out of band and a toast; a refusal → 422/409 with the form, messages by the fields;
no JavaScript → 303 back with a flash message.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Response, abort, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.idempotency import checked_key
from covet.money import format_money, parse_money
from covet.orders.access import is_staff, order_for
from covet.orders.carriers import CARRIERS
from covet.orders.detail import OrderDetail, load_detail
from covet.orders.models import Order
from covet.orders.views import bp, counts_oob, queue_return_url, row_response
from covet.payments.gateway import GatewayError, PaymentsDisabledError
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.params import parse_id, parse_whole
from covet.web.policy import EVERYONE, STAFF, allow, roles_for

DETAIL = "orders/detail.html"
STALE = "Someone changed this order while you were looking at it. The page now shows it as it is; try again."


def _load(order_id: int) -> OrderDetail:
    try:
        return load_detail(current_actor(), order_id)
    except NotFoundError:
        abort(404)


def _render(order_id: int, block: str | None = None, http_status: int = 200, **extra) -> Response:
    detail = _load(order_id)
    context = {"detail": detail, "order": detail.order, "carriers": CARRIERS, "errors": {}, "form": {},
               "failed": None, "assignees": _assignees(detail), "new_key": lambda: uuid.uuid4().hex,
               "fragment": is_fragment_request(), "unplaced": unplaced, "may_open": may_open}
    context.update(extra)
    return render_page(DETAIL, block, http_status=http_status, **context)


def _assignees(detail: OrderDetail) -> list:
    from covet.orders.services import assignable_users

    return assignable_users() if detail.staff else []


def unplaced(errors: dict, fields, lines=(), prefix: str = "") -> list[str]:
    """The messages of `errors` that no field of the form shows (a stale order, a Stripe refusal)."""
    placed = {str(name) for name in fields}
    for line in lines:
        placed |= {str(line.id), f"{prefix}{line.id}"}
    return [message for key, message in errors.items() if str(key) not in placed]


def may_open(endpoint: str) -> bool:
    """Link only to pages the user may open (the webhook log is for admins)."""
    return current_user.role in (roles_for(endpoint) or ())


@bp.get("/<int:order_id>")
@allow(*EVERYONE)
def order_detail(order_id: int):
    """One order: header, customer, lines, money, shipments, people, notes and its timeline."""
    return _render(order_id, "order_detail")


def _act(order_id: int, block: str, action: Callable[[Order], str], anchor: str) -> Response:
    """Run an action on the order (it returns the toast); answer for the page, the queue row or a plain form."""
    try:
        message = action(order_for(current_actor(), order_id))  # 404 first, whatever the service checks
    except NotFoundError:
        db.session.rollback()
        abort(404)
    except ValidationError as exc:
        return _refused(order_id, block, exc.errors, 422)
    except (ConflictError, StaleDataError):
        return _refused(order_id, block, {"order": STALE}, 409)
    except PaymentsDisabledError:
        return _refused(order_id, block, {"order": "Payments are not configured: nothing was refunded."}, 422)
    except GatewayError as exc:
        # Shown in the form (a 5xx would not be swapped): the message says whether trying again may help.
        return _refused(order_id, block, {"order": f"Stripe did not refund: {exc}"}, 422)
    toast(message)
    if _for_row():
        return row_response(order_id) if is_fragment_request() else redirect_after_post(queue_return_url())
    if is_fragment_request():
        return _with_counts(_render(order_id, "order_detail"))
    return redirect_after_post(url_for("orders.order_detail", order_id=order_id) + anchor)


def _refused(order_id: int, block: str, errors: dict, http_status: int) -> Response:
    """The form again with the user's input and the messages; a queue row stays as it is, with a toast."""
    db.session.rollback()
    if _for_row():
        toast(" ".join(str(message) for message in errors.values()), "error")
        if not is_fragment_request():
            return redirect_after_post(queue_return_url())
        response = row_response(order_id)
        response.status_code = http_status
        return response
    response = _render(order_id, block, http_status, errors=errors, form=request.form, failed=block)
    if is_fragment_request():
        # The form asked for the whole detail on success; a refusal replaces only the form.
        response.headers["HX-Retarget"] = f"#{block}"
        response.headers["HX-Reswap"] = "outerHTML"
    return response


def _with_counts(response: Response) -> Response:
    response.set_data(response.get_data() + counts_oob().encode())
    return response


def _for_row() -> bool:
    return request.form.get("context") == "row"


def _key() -> str:
    """The form's idempotency key (one per rendered form); a form without one is refused, not guessed."""
    key = request.form.get("idempotency_key", "").strip()
    if len(key) < 8:
        raise ValidationError({"order": "This form is out of date. Reload the page and try again."})
    return checked_key(key)


def _quantities(prefix: str) -> tuple[dict[int, int], dict]:
    """{line id: units} from `<prefix><line id>` fields; blank is 0; errors keyed by the field."""
    found, errors = {}, {}
    for name, value in request.form.items():
        line_id = parse_id(name[len(prefix):]) if name.startswith(prefix) else None
        if line_id is None:
            continue
        text = value.strip()
        try:
            found[line_id] = parse_whole(text, 0, 100_000) if text else 0
        except ValueError as exc:
            errors[name], found[line_id] = str(exc), 0
    return found, errors


@bp.post("/<int:order_id>/fulfil")
@allow(*EVERYONE)
def order_fulfil(order_id: int):
    """Ship one store's lines (a merchant: only their own) and email the customer the tracking link."""
    from covet.orders.fulfilment import fulfil_order

    def ship(order: Order) -> str:
        actor = current_actor()
        # The service refuses another store's lines for a merchant: their own store is only the default.
        store_id = parse_id(request.form.get("store_id")) or (None if is_staff(actor) else actor.store_id)
        quantities, errors = _quantities("quantity-")
        if errors:
            raise ValidationError(errors)
        fulfilment = fulfil_order(order.id, store_id or 0, actor, request.form.get("carrier", ""),
                                  request.form.get("tracking_number", ""), quantities or None, _key())
        units = sum(line.quantity for line in fulfilment.lines)
        return f"Shipped {units} item{'s' if units != 1 else ''}; the customer gets the tracking email."

    return _act(order_id, "fulfil", ship, "#order-fulfilments")


@bp.post("/<int:order_id>/refund")
@allow(*STAFF)
def order_refund(order_id: int):
    """Refund part or all of the captured payment, optionally putting items back in stock."""
    from covet.orders.cancellation import refund

    def pay_back(order: Order) -> str:
        restock, errors = _quantities("restock-")
        try:
            amount = parse_money(request.form.get("amount", ""), order.currency)
        except ValueError as exc:
            errors["amount"] = str(exc)
        if errors:
            raise ValidationError(errors)
        restock = {line_id: units for line_id, units in restock.items() if units} or None
        done = refund(order.id, amount, current_actor(), _key(), restock=restock,
                      reason=request.form.get("reason", "").strip()[:200] or None)
        state = "refunded" if done.status == "succeeded" else "sent to Stripe"
        return f"{format_money(done.amount, done.currency)} {state}."

    return _act(order_id, "refund", pay_back, "#order-payments")


@bp.post("/<int:order_id>/cancel")
@allow(*STAFF)
def order_cancel(order_id: int):
    """Cancel an unshipped order: refund what was paid and, if asked, put the items back in stock."""
    from covet.orders.cancellation import cancel_order

    def cancel(order: Order) -> str:
        if request.form.get("confirm") != "yes":
            raise ValidationError({"confirm": "Tick the box to confirm the cancellation."})
        order = cancel_order(order.id, current_actor(), _key(), reason=request.form.get("reason", "").strip()[:200],
                             restock=request.form.get("restock") == "on")
        return f"Order {order.number} cancelled."

    return _act(order_id, "cancel", cancel, "#order-timeline")


@bp.post("/<int:order_id>/assign")
@allow(*STAFF)
def order_assign(order_id: int):
    """Assign the order: `assignee` is "me", "" (nobody) or a user id."""
    from covet.orders.services import assign

    def give(order: Order) -> str:
        value = request.form.get("assignee", "").strip()
        if value not in ("", "me") and parse_id(value) is None:
            raise ValidationError({"assignee": "Choose someone from the list."})
        assignee_id = current_user.id if value == "me" else parse_id(value)
        seen = {}
        if "expected_assignee" in request.form:  # the queue row says who it showed
            seen["expected_assignee"] = parse_id(request.form["expected_assignee"])
        order = assign(order.id, assignee_id, current_actor(), **seen)
        if assignee_id is None:
            return f"{order.number} is unassigned."
        return f"{order.number} is yours." if assignee_id == current_user.id else f"{order.number} assigned."

    return _act(order_id, "assignment", give, "#assignment")


@bp.post("/<int:order_id>/tags")
@allow(*STAFF)
def order_tags(order_id: int):
    """Add tags (comma-separated `add`) and/or remove one (`remove`)."""
    from covet.orders.services import set_tags

    def retag(order: Order) -> str:
        add = [t for t in request.form.get("add", "").split(",") if t.strip()]
        remove = [t for t in request.form.getlist("remove") if t.strip()]
        if not add and not remove:
            raise ValidationError({"tag": "Type a tag to add."})
        order = set_tags(order.id, current_actor(), add=add, remove=remove)
        return f"Tags of {order.number}: {', '.join(t.tag for t in order.tags) or 'none'}."

    return _act(order_id, "assignment", retag, "#assignment")


@bp.post("/<int:order_id>/notes")
@allow(*EVERYONE)
def order_note_add(order_id: int):
    """Add an internal note (staff, or a merchant on an order holding their lines)."""
    from covet.orders.services import add_note

    def note(order: Order) -> str:
        add_note(order.id, request.form.get("body", ""), current_actor())
        return "Note added."

    return _act(order_id, "notes", note, "#notes")
