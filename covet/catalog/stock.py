"""Stock moves only through the inventory ledger: one row per change, with a reason."""
from __future__ import annotations

from covet.audit.services import Actor
from covet.catalog.models import STOCK_REASONS, InventoryAdjustment, Variant
from covet.extensions import db

EDITOR_REASONS = ("received", "damaged", "correction", "returned")  # sold/cancelled come from orders


def stock_problem(variant: Variant, delta: int, reason: str, allowed=EDITOR_REASONS) -> str | None:
    """Why this adjustment may not happen, or None."""
    if reason not in allowed:
        return f"Choose a reason: {', '.join(allowed)}."
    if delta == 0:
        return "The change is zero."
    if variant.stock_on_hand + delta < 0:
        return f"Stock cannot go below zero (on hand {variant.stock_on_hand}, change {delta:+d})."
    return None


def adjust_stock(variant: Variant, delta: int, reason: str, actor: Actor, note: str | None = None,
                 order_id: int | None = None) -> InventoryAdjustment:
    """Change stock on hand by `delta` and write the ledger row (caller validated and commits)."""
    assert reason in STOCK_REASONS and delta != 0
    variant.stock_on_hand += delta
    entry = InventoryAdjustment(variant_id=variant.id, delta=delta, stock_after=variant.stock_on_hand,
                                reason=reason, note=note, actor_id=actor.user_id, order_id=order_id)
    db.session.add(entry)
    return entry
