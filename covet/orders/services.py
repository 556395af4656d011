"""Order queue work: take the next order, assign, tag and annotate orders."""
from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, select, text, update

from covet.accounts.models import User
from covet.audit.services import Actor, record
from covet.dbtypes import utcnow
from covet.errors import ValidationError
from covet.extensions import db
from covet.orders.access import order_for, require_staff, store_scope
from covet.orders.models import TAKE_NEXT_WHERE, Order, OrderNote, OrderTag

ASSIGNABLE_ROLES = ("admin", "staff")
MAX_TAGS = 20
MAX_NOTE = 5000
_TAG = re.compile(r"[a-z0-9-]{1,40}")


def refuse(errors: dict) -> None:
    """Release the row locks this transaction took (nothing was written) and raise the errors."""
    db.session.rollback()
    raise ValidationError(errors)


def take_next(actor: Actor) -> Order | None:
    """Assign the oldest order waiting for staff to the actor, in one statement; None when nobody waits."""
    require_staff(actor)
    oldest = select(Order.id).where(text(TAKE_NEXT_WHERE)).order_by(Order.created_at, Order.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        # Two staff pressing at once each get a different order: a locked candidate is skipped, not waited for.
        oldest = oldest.with_for_update(skip_locked=True)
    # The predicate again on the outer UPDATE: SQLite has no row locks, so the row is re-checked as it is written.
    order_id = db.session.scalar(
        update(Order).where(Order.id == oldest.scalar_subquery(), text(TAKE_NEXT_WHERE))
        .values(assignee_id=actor.user_id, version=Order.version + 1, updated_at=utcnow())
        .returning(Order.id).execution_options(synchronize_session=False))
    if order_id is None:
        db.session.rollback()
        return None
    record(actor, "order.assigned", "order", order_id, before={"assignee_id": None},
           after={"assignee_id": actor.user_id, "via": "take_next"})
    db.session.commit()
    return db.session.get(Order, order_id, populate_existing=True)


def assignable_users() -> list[User]:
    """Active staff and admins, by name (or email), for the assignee dropdowns."""
    label = func.lower(func.coalesce(func.nullif(User.name, ""), User.email))
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.role.in_(ASSIGNABLE_ROLES))
                                   .order_by(label, User.id)))


def check_assignee(assignee_id: int | None) -> None:
    """ValidationError unless the id is None (unassign) or an active staff member or admin."""
    if assignee_id is None:
        return
    user = db.session.get(User, assignee_id) if isinstance(assignee_id, int) else None
    if user is None or not user.active or user.role not in ASSIGNABLE_ROLES:
        refuse({"assignee": "Choose an active staff member or admin."})


UNCHECKED = object()


def assign(order_id: int, assignee_id: int | None, actor: Actor, expected_assignee=UNCHECKED) -> Order:
    """Give the order to a staff member (None unassigns); unchanged is a no-op.

    `expected_assignee` is who the user saw on the order: if a colleague took it meanwhile, refuse rather
    than take it from them without knowing."""
    require_staff(actor)
    check_assignee(assignee_id)
    order = order_for(actor, order_id, lock=True)
    if expected_assignee is not UNCHECKED and order.assignee_id not in (expected_assignee, assignee_id):
        holder = db.session.get(User, order.assignee_id) if order.assignee_id else None
        name = (holder.name or holder.email) if holder else "nobody"
        refuse({"assignee": f"{order.number} was just taken by {name}; it is still theirs."})
    if order.assignee_id == assignee_id:
        db.session.rollback()  # releases the lock; nothing changed, nothing to audit
        return db.session.get(Order, order_id)
    before = {"assignee_id": order.assignee_id}
    order.assignee_id = assignee_id
    record(actor, "order.assigned", "order", order.id, before=before, after={"assignee_id": assignee_id})
    db.session.commit()
    return order


def normalise_tag(raw: str) -> str:
    """ "  Gift Wrap " → "gift-wrap"; ValidationError for anything outside [a-z0-9-], 1–40 characters."""
    tag = re.sub(r"\s+", "-", (raw or "").strip().lower())
    if not _TAG.fullmatch(tag):
        refuse({"tag": "Tags are 1 to 40 characters: letters, digits and dashes."})
    return tag


def set_tags(order_id: int, actor: Actor, add: Iterable[str] = (), remove: Iterable[str] = ()) -> Order:
    """Add and remove tags on an order (at most 20 per order)."""
    require_staff(actor)
    adding = [normalise_tag(t) for t in add]
    removing = {normalise_tag(t) for t in remove}
    order = order_for(actor, order_id, lock=True)  # one change at a time: the cap holds under concurrency
    before = sorted(t.tag for t in order.tags)
    after = sorted((set(before) | set(adding)) - removing)
    if after == before:
        db.session.rollback()
        return db.session.get(Order, order_id)
    if len(after) > MAX_TAGS:
        refuse({"tag": f"An order can carry at most {MAX_TAGS} tags."})
    order.tags = [t for t in order.tags if t.tag in after] + [OrderTag(tag=t) for t in after if t not in before]
    order.updated_at = utcnow()  # the row changes too, so open copies of it see a new version
    record(actor, "order.tagged", "order", order.id, before={"tags": before}, after={"tags": after})
    db.session.commit()
    return order


def add_note(order_id: int, body: str, actor: Actor) -> OrderNote:
    """Add an internal note to an order (staff, or a merchant on an order holding their lines)."""
    text_ = (body or "").strip()
    if not 1 <= len(text_) <= MAX_NOTE:
        refuse({"body": f"Write a note of 1 to {MAX_NOTE:,} characters."})
    order = order_for(actor, order_id)
    note = OrderNote(order_id=order.id, author_id=actor.user_id, body=text_)
    db.session.add(note)
    db.session.flush()
    record(actor, "order.note_added", "order", order.id, after={"note_id": note.id, "length": len(text_)},
           store_id=store_scope(actor))
    db.session.commit()
    return note
