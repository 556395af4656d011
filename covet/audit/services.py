"""Record who changed what. Callers add the entry to their own transaction."""
from __future__ import annotations

from dataclasses import dataclass

from covet.audit.models import AuditLog
from covet.extensions import db


@dataclass(frozen=True)
class Actor:
    """Who is acting, and from where; built by the web layer or a job, passed into services."""

    user_id: int | None
    email: str | None
    role: str
    store_id: int | None = None
    ip: str | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(user_id=None, email=name, role="system")

    @classmethod
    def for_user(cls, user, ip: str | None = None, request_id: str | None = None) -> Actor:
        return cls(user_id=user.id, email=user.email, role=user.role, store_id=user.store_id, ip=ip,
                   request_id=request_id)


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the keys whose values changed (secrets are never passed in)."""
    if before is None or after is None:
        return before, after
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    return ({k: before.get(k) for k in changed}, {k: after.get(k) for k in changed})


def record(actor: Actor, action: str, entity_type: str, entity_id=None, *, before: dict | None = None,
           after: dict | None = None, store_id: int | None = None) -> AuditLog:
    """Add an audit entry to the current transaction."""
    before, after = diff(before, after)
    entry = AuditLog(actor_id=actor.user_id, actor_email=actor.email, action=action, entity_type=entity_type,
                     entity_id=None if entity_id is None else str(entity_id), store_id=store_id,
                     before=before, after=after, ip=actor.ip, request_id=actor.request_id)
    db.session.add(entry)
    return entry
