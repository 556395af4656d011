"""Sign-in, sign-out, password changes and user creation."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select

from covet.accounts.models import ROLES, User, new_session_token
from covet.accounts.passwords import (
    burn_verification_time,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from covet.audit.services import Actor, record
from covet.dbtypes import utcnow
from covet.errors import ValidationError
from covet.extensions import db
from covet.observability import get_logger
from covet.stores.models import Store


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    reason: str  # for logs only: "ok", "unknown", "inactive", "locked", "mismatch"


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def authenticate(email: str, password: str, ip: str | None = None, request_id: str | None = None) -> SignInResult:
    """Check an email and password; count failures and lock the account after too many."""
    log = get_logger("covet.auth")
    user = find_user_by_email(email)
    now = utcnow()
    if user is None or not user.active:
        burn_verification_time()
        log.info("login_failed", extra={"reason": "unknown" if user is None else "inactive"})
        return SignInResult(None, "unknown" if user is None else "inactive")
    actor = Actor.for_user(user, ip, request_id)
    if user.locked_until and user.locked_until > now:
        burn_verification_time()
        log.warning("login_failed", extra={"reason": "locked", "user_id": user.id})
        return SignInResult(None, "locked")
    if not verify_password(user.password_hash, password):
        _count_failure(user, actor, now)
        return SignInResult(None, "mismatch")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not user.two_factor_enabled:  # with a second factor the count goes on until the code is right too
        user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    record(actor, "user.login", "user", user.id)
    db.session.commit()
    log.info("login", extra={"user_id": user.id})
    return SignInResult(user, "ok")


def _count_failure(user: User, actor: Actor, now: dt.datetime) -> None:
    cfg = current_app.config
    user.failed_logins += 1
    if user.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
        user.locked_until = now + dt.timedelta(seconds=cfg["LOGIN_LOCK_SECONDS"])
        user.failed_logins = 0
        record(actor, "user.locked", "user", user.id, after={"locked_until": user.locked_until.isoformat()})
        get_logger("covet.auth").warning("account_locked", extra={"user_id": user.id})
    db.session.commit()
    get_logger("covet.auth").info("login_failed", extra={"reason": "mismatch", "user_id": user.id})


def sign_out_everywhere(user: User, actor: Actor) -> None:
    """Rotate the session token: every cookie issued for this user stops working."""
    user.session_token = new_session_token()
    record(actor, "user.logout", "user", user.id)
    db.session.commit()


def change_password(user: User, current: str, new: str, confirm: str, actor: Actor) -> None:
    """Replace a user's password after checking the current one; signs out other sessions."""
    errors = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "That is not your current password."
    problem = password_problem(new, user.email)
    if problem:
        errors["new_password"] = problem
    elif new != confirm:
        errors["confirm_password"] = "The two new passwords do not match."
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if errors:
        raise ValidationError(errors)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.session_token = new_session_token()
    record(actor, "user.password_changed", "user", user.id)
    db.session.commit()


def create_user(email: str, password: str, role: str, actor: Actor, store_slug: str | None = None,
                name: str = "") -> User:
    """Create a back-office user; merchants belong to exactly one store."""
    errors = {}
    try:
        # @….test addresses (demo, tests) are allowed outside production.
        email = validate_email(email, check_deliverability=False,
                               test_environment=current_app.config["COVET_ENV"] != "production").normalized.lower()
    except EmailNotValidError as exc:
        errors["email"] = str(exc)
    if "email" not in errors and find_user_by_email(email):
        errors["email"] = "A user with this email already exists."
    if role not in ROLES:
        errors["role"] = f"Role must be one of {', '.join(ROLES)}."
    store = None
    if store_slug:
        store = db.session.scalar(select(Store).where(Store.slug == store_slug))
        if store is None:
            errors["store"] = f"No store with slug '{store_slug}'."
    if role == "merchant" and not store_slug:
        errors["store"] = "A merchant needs a store (--store SLUG)."
    problem = password_problem(password, email)
    if problem:
        errors["password"] = problem
    if errors:
        raise ValidationError(errors)
    user = User(email=email, password_hash=hash_password(password), role=role, name=name,
                store_id=store.id if store and role == "merchant" else None)
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", "user", user.id, after={"email": email, "role": role,
                                                         "store_id": user.store_id})
    db.session.commit()
    return user


def load_user_by_session_token(token: str) -> User | None:
    """Flask-Login's user loader: the token in the cookie must still be current."""
    if not token:
        return None
    user = db.session.scalar(select(User).where(User.session_token == token))
    return user if user is not None and user.active else None
