"""Saved queue filters, per user: a name and the query string it stands for."""
from __future__ import annotations

from sqlalchemy import select

from covet.audit.services import Actor, record
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.orders.filters import filters_from_query
from covet.orders.models import OrderFilterPreset

MAX_PRESETS = 20


def presets_for(user_id: int) -> list[OrderFilterPreset]:
    return list(db.session.scalars(select(OrderFilterPreset).where(OrderFilterPreset.user_id == user_id)
                                   .order_by(OrderFilterPreset.name).limit(MAX_PRESETS)))


def save_preset(actor: Actor, name: str, query_string: str) -> OrderFilterPreset:
    """Save (or overwrite, by name) the current filters under a name."""
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 60:
        raise ValidationError({"name": "Name the preset (up to 60 characters)."})
    filters = filters_from_query(query_string)
    if filters.errors:
        raise ValidationError({"name": "Fix the filters before saving them."})
    query = filters.query_string(after="")  # canonical: only known filters, never a page cursor
    preset = db.session.scalar(select(OrderFilterPreset).where(OrderFilterPreset.user_id == actor.user_id,
                                                               OrderFilterPreset.name == name))
    if preset is None:
        if len(presets_for(actor.user_id)) >= MAX_PRESETS:
            raise ValidationError({"name": f"You already have {MAX_PRESETS} presets; delete one first."})
        preset = OrderFilterPreset(user_id=actor.user_id, name=name)
        db.session.add(preset)
    preset.query = query
    db.session.flush()
    record(actor, "order_preset.saved", "order_preset", preset.id, after={"name": name, "query": query})
    db.session.commit()
    return preset


def delete_preset(actor: Actor, preset_id: int) -> None:
    """Delete one of the actor's own presets."""
    preset = db.session.get(OrderFilterPreset, preset_id)
    if preset is None or preset.user_id != actor.user_id:
        raise NotFoundError(f"preset {preset_id}")
    record(actor, "order_preset.deleted", "order_preset", preset.id, before={"name": preset.name})
    db.session.delete(preset)
    db.session.commit()
