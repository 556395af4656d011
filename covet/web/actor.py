"""The acting user, as plain values for services."""
from flask import g, request
from flask_login import current_user

from covet.audit.services import Actor


def current_actor() -> Actor:
    """The signed-in user with this request's IP and id, for audit entries."""
    return Actor.for_user(current_user, ip=request.remote_addr, request_id=g.get("request_id"))
