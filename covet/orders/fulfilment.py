"""Shipping an order: one fulfilment per store shipment, exactly once per submitted form."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from covet.audit.services import Actor, record
from covet.dbtypes import utcnow
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.notifications.services import queue_email
from covet.orders.access import order_for, store_scope
from covet.orders.carriers import CARRIERS, TRACKING_NUMBER_HELP, clean_tracking_number, tracking_url
from covet.orders.models import CAPTURED, Fulfilment, FulfilmentLine, Order, OrderLine
from covet.orders.services import refuse

NOTHING_LEFT = "Everything from this store has already been shipped or refunded."
# What the shipping email calls a carrier picked as "other" ("now in the hands of our delivery partner").
OTHER_CARRIER_LABEL = "our delivery partner"


def remaining(line: OrderLine) -> int:
    """Units of the line still to ship: neither shipped nor refunded."""
    return line.quantity - line.quantity_fulfilled - line.quantity_refunded


def order_problem(order: Order) -> str | None:
    """Why the order cannot be shipped at all, or None."""
    if order.state == "cancelled":
        return "This order is cancelled — it cannot be shipped."
    if order.state == "closed":
        return "This order is closed — it cannot be shipped."
    if order.payment_status == "refunded":
        return "This order has been refunded — it cannot be shipped."
    if order.payment_status not in CAPTURED:
        return "This order is not paid yet — it cannot be shipped."
    return None


def fulfilment_status(lines: list[OrderLine]) -> str:
    """The order's status counting every line of every store."""
    shipped = any(line.quantity_fulfilled for line in lines)
    if shipped and all(remaining(line) <= 0 for line in lines):
        return "fulfilled"
    return "partial" if shipped else "unfulfilled"


def _by_key(idempotency_key: str) -> Fulfilment | None:
    return db.session.scalar(select(Fulfilment).where(Fulfilment.idempotency_key == idempotency_key))


def _replayed(found: Fulfilment, order_id: int, store_id: int, actor: Actor) -> Fulfilment:
    """The fulfilment a repeated form already made (after checking it is that form's)."""
    if found.order_id != order_id or found.store_id != store_id:
        refuse({"order": "This form was already used for another shipment; reload the page and try again."})
    if store_scope(actor) not in (None, found.store_id):
        raise NotFoundError(f"fulfilment {found.id}")
    db.session.rollback()  # releases the order lock; nothing was written
    return found


def whole_number(value) -> int | None:
    """A form's quantity as an int (never a bool), or None for anything that is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdecimal() else None


def _shipment(lines: list[OrderLine], quantities: dict | None) -> tuple[dict[OrderLine, int], dict]:
    """Line → units to ship now, and errors keyed "quantities" or "quantity-<line id>"."""
    if quantities is None:
        chosen = {line: remaining(line) for line in lines if remaining(line) > 0}
        return chosen, ({} if chosen else {"quantities": NOTHING_LEFT})
    by_id = {line.id: line for line in lines}
    chosen, errors = {}, {}
    for key, value in quantities.items():
        line = by_id.get(whole_number(key))
        if line is None:
            errors["quantities"] = f"Line {key} is not one of this store's lines in the order."
            continue
        quantity, left = whole_number(value), max(remaining(line), 0)
        if quantity is None or not 0 <= quantity <= left:
            errors[f"quantity-{line.id}"] = f"Ship between 0 and {left} of {line.sku}."
        elif quantity:
            chosen[line] = quantity
    if not errors and not chosen:
        errors["quantities"] = "Choose at least one item to ship." if any(map(remaining, lines)) else NOTHING_LEFT
    return chosen, errors


def _checked(order: Order, store_id: int, actor: Actor, carrier: str, tracking_number: str | None,
             quantities: dict | None) -> tuple[dict[OrderLine, int], str | None]:
    """What to ship and the cleaned tracking number; refuses (nothing written) with field messages."""
    if problem := order_problem(order):
        refuse({"order": problem})
    if store_scope(actor) not in (None, store_id):
        refuse({"store": "You can only ship your own store's items."})
    lines = [line for line in order.lines if line.store_id == store_id]
    if not lines:
        refuse({"store": "This order has nothing from that store."})
    errors: dict = {}
    if carrier not in CARRIERS:
        errors["carrier"] = "Choose a carrier from the list."
    number = clean_tracking_number(tracking_number)
    if (tracking_number or "").strip() and number is None:
        errors["tracking_number"] = TRACKING_NUMBER_HELP
    elif number is None and carrier != "other":
        errors["tracking_number"] = "Enter the tracking number."
    shipment, line_errors = _shipment(lines, quantities)
    errors.update(line_errors)
    if errors:
        refuse(errors)
    return shipment, number


def fulfil_order(order_id: int, store_id: int, actor: Actor, carrier: str, tracking_number: str | None,
                 quantities: dict[int, int] | None, idempotency_key: str) -> Fulfilment:
    """Ship some of one store's lines of an order (None: all that remain); a repeated key returns the first."""
    if not idempotency_key:
        raise ValueError("every fulfilment needs an idempotency key (one per submitted form)")
    order = order_for(actor, order_id, lock=True)  # shipments of one order happen one at a time
    if (found := _by_key(idempotency_key)) is not None:
        return _replayed(found, order_id, store_id, actor)
    shipment, number = _checked(order, store_id, actor, carrier, tracking_number, quantities)
    try:
        fulfilment = _ship(order, store_id, actor, carrier, number, shipment, idempotency_key)
        db.session.commit()
    except IntegrityError:
        # The same form raced past the lookup (another order, or no row lock): the first one wins.
        db.session.rollback()
        if (found := _by_key(idempotency_key)) is None:
            raise
        return _replayed(found, order_id, store_id, actor)
    return fulfilment


def _ship(order: Order, store_id: int, actor: Actor, carrier: str, number: str | None,
          shipment: dict[OrderLine, int], idempotency_key: str) -> Fulfilment:
    """Write the fulfilment, the lines' shipped units, the order status, the audit entry and the email."""
    fulfilment = Fulfilment(order_id=order.id, store_id=store_id, carrier=carrier, tracking_number=number,
                            tracking_url=tracking_url(carrier, number), created_by_id=actor.user_id,
                            idempotency_key=idempotency_key)
    for line, quantity in shipment.items():
        fulfilment.lines.append(FulfilmentLine(order_line_id=line.id, quantity=quantity))
        line.quantity_fulfilled += quantity
    db.session.add(fulfilment)
    db.session.flush()  # a duplicate key fails here, before anything else is written
    before = order.fulfilment_status
    order.fulfilment_status = fulfilment_status(order.lines)
    order.updated_at = utcnow()  # the order changes (new version) even when its status stays "partial"
    record(actor, "order.fulfilled", "order", order.id, before={"fulfilment_status": before},
           after={"fulfilment_status": order.fulfilment_status, "fulfilment_id": fulfilment.id, "carrier": carrier,
                  "tracking_number": number, "lines": {str(line.id): q for line, q in shipment.items()}},
           store_id=store_id)
    # In the same transaction: the email exists exactly when the shipment does, and is sent after commit.
    queue_email("shipping_notification", order.email, shipping_context(order, fulfilment, shipment),
                f"shipping:{fulfilment.id}", order_id=order.id)
    return fulfilment


def shipping_context(order: Order, fulfilment: Fulfilment, shipment: dict[OrderLine, int]) -> dict:
    """The shipping_notification email's context: this shipment's lines only."""
    carrier = OTHER_CARRIER_LABEL if fulfilment.carrier == "other" else CARRIERS[fulfilment.carrier]
    return {"order_number": order.number, "customer_name": order.customer_name, "carrier": carrier,
            "tracking_number": fulfilment.tracking_number or "", "tracking_url": fulfilment.tracking_url,
            "lines": [line.email_line(quantity) for line, quantity in shipment.items()]}


def fulfil_remaining(order_id: int, actor: Actor, carrier: str = "other",
                     idempotency_key: str | None = None) -> list[Fulfilment]:
    """Ship everything left on the order, one fulfilment per store (a merchant: their store only)."""
    if not idempotency_key:
        raise ValueError("fulfil_remaining needs an idempotency key (one per submitted form)")
    order = order_for(actor, order_id)
    scope = store_scope(actor)
    stores = sorted({line.store_id for line in order.lines if scope is None or line.store_id == scope})
    keys = {store_id: f"{idempotency_key}:{store_id}" for store_id in stores}
    used = set(db.session.scalars(select(Fulfilment.idempotency_key)
                                  .where(Fulfilment.idempotency_key.in_(keys.values()))))
    to_ship = [s for s in stores if keys[s] in used or any(remaining(line) > 0 for line in order.lines
                                                           if line.store_id == s)]
    problem = order_problem(order)
    db.session.rollback()
    if not to_ship:
        refuse({"order": problem or "Everything on this order has already been shipped."})
    done = []
    for store_id in to_ship:
        try:
            done.append(fulfil_order(order_id, store_id, actor, carrier, None, None, keys[store_id]))
        except ValidationError as exc:
            if exc.errors != {"quantities": NOTHING_LEFT}:
                raise
            # someone shipped this store's lines meanwhile: nothing is left to do for it
    if not done:
        refuse({"order": "Everything on this order has already been shipped."})
    return done
