"""Bulk actions on many orders: each order goes through its single-order service, in its own transaction."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from covet.audit.services import Actor
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.idempotency import checked_key
from covet.orders.access import require_staff
from covet.orders.fulfilment import fulfil_remaining
from covet.orders.models import Order
from covet.orders.services import assign, check_assignee, normalise_tag, set_tags

MAX_BULK = 5000


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # order id → "CV-1042: This order is not paid yet …"


def _ids(order_ids: Iterable[int]) -> list[int]:
    """The ids once each, in the order given; at most MAX_BULK."""
    try:
        unique = list(dict.fromkeys(int(i) for i in order_ids))
    except (TypeError, ValueError):
        raise ValidationError({"orders": "Order ids are whole numbers."}) from None
    if len(unique) > MAX_BULK:
        raise ValidationError({"orders": f"Choose at most {MAX_BULK:,} orders at a time."})
    return unique


def _each(order_ids: list[int], action: Callable[[int], object]) -> BulkResult:
    """Run action per order; a refusal is recorded against the order, the others carry on."""
    result = BulkResult()
    for order_id in order_ids:
        try:
            action(order_id)
        except NotFoundError:
            db.session.rollback()
            result.failed[order_id] = f"Order {order_id}: not found."
        except ValidationError as exc:
            db.session.rollback()
            number = db.session.scalar(select(Order.number).where(Order.id == order_id)) or f"Order {order_id}"
            result.failed[order_id] = f"{number}: {' '.join(exc.errors.values())}"
        else:
            result.done.append(order_id)
    return result


def bulk_assign(order_ids: Iterable[int], assignee_id: int | None, actor: Actor) -> BulkResult:
    """Assign every order to one staff member (None unassigns)."""
    require_staff(actor)
    ids = _ids(order_ids)
    check_assignee(assignee_id)  # once for all: a bad assignee is one error, not 5,000
    return _each(ids, lambda order_id: assign(order_id, assignee_id, actor))


def bulk_tag(order_ids: Iterable[int], tag: str, actor: Actor) -> BulkResult:
    """Add one tag to every order."""
    require_staff(actor)
    ids = _ids(order_ids)
    clean = normalise_tag(tag)
    return _each(ids, lambda order_id: set_tags(order_id, actor, add=[clean]))


def bulk_fulfil(order_ids: Iterable[int], actor: Actor, idempotency_key: str) -> BulkResult:
    """Mark every order fulfilled (all that remains, carrier "other"); a repeated key ships nothing twice."""
    if not idempotency_key:
        raise ValueError("bulk_fulfil needs an idempotency key (one per submitted form)")
    checked_key(idempotency_key)  # it is a job argument too: a token, never markup
    ids = _ids(order_ids)
    return _each(ids, lambda order_id: fulfil_remaining(order_id, actor, "other", f"{idempotency_key}:{order_id}"))
