"""A second factor for admins and staff: TOTP codes (RFC 6238, any authenticator app) and recovery codes.

Each code is accepted once: the last 30-second step used is kept, so a code seen over a shoulder (or a
replayed form) cannot sign in again. Recovery codes are random, shown once, stored as SHA-256 hashes and
crossed off when used. Wrong codes count towards the same lock as wrong passwords.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy import select

from covet.accounts.models import User
from covet.accounts.passwords import verify_password
from covet.audit.services import Actor, record
from covet.dbtypes import utcnow
from covet.errors import ValidationError
from covet.extensions import db

ROLES = ("admin", "staff")
ISSUER = "Covet"
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a phone's clock a little off: the code before and after the current one count too
RECOVERY_CODE_COUNT = 10
NOT_CURRENT = "That is not your current password."
WRONG_CODE = "That code is not right. Enter the 6 digits your app shows now, or a recovery code."


def new_secret() -> str:
    """A fresh base32 secret for an authenticator app (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or pasted)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _digits(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_digits(code).encode()).hexdigest()


def matching_step(secret: str, code: str, after_step: int | None, now: float | None = None) -> int | None:
    """The time step whose code this is (within the drift), if later than `after_step`; else None."""
    code = _digits(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp, current = pyotp.TOTP(secret), int((time.time() if now is None else now) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if (after_step is None or step > after_step) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enable(user: User, secret: str, code: str, actor: Actor) -> list[str]:
    """Turn the second factor on once the app shows a right code; return the recovery codes (shown once)."""
    if user.role not in ROLES:
        raise ValidationError({"code": "Two-step sign-in is for admins and staff."})
    step = matching_step(secret, code, None)
    if step is None:
        raise ValidationError({"code": WRONG_CODE})
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, utcnow(), step
    user.recovery_code_hashes = [_recovery_hash(c) for c in codes]
    record(actor, "user.two_factor_enabled", "user", user.id)
    db.session.commit()
    return codes


def disable(user: User, password: str, code: str, actor: Actor) -> None:
    """Turn the second factor off: needs the password and a current code (or a recovery code)."""
    errors = {}
    if not verify_password(user.password_hash, password or ""):
        errors["current_password"] = NOT_CURRENT
    if not _use_code(user, code):
        errors["code"] = WRONG_CODE
    if errors:
        db.session.rollback()
        raise ValidationError(errors)
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = user.recovery_code_hashes = None
    record(actor, "user.two_factor_disabled", "user", user.id)
    db.session.commit()


def _use_code(user: User, code: str) -> bool:
    """Accept a TOTP code (once) or a recovery code (crossed off); change nothing on a wrong one."""
    step = matching_step(user.totp_secret or "", code, user.totp_last_step) if user.totp_secret else None
    if step is not None:
        user.totp_last_step = step
        return True
    hashed, known = _recovery_hash(code), list(user.recovery_code_hashes or [])
    match = next((h for h in known if hmac.compare_digest(h, hashed)), None)
    if match is None or not _digits(code):
        return False
    known.remove(match)
    user.recovery_code_hashes = known
    return True


def pending_token(user: User) -> str:
    """What a half-done sign-in keeps in the session: bound to the user's current session token (a password
    change or a sign-out everywhere voids it), without putting that token in the cookie."""
    return hashlib.sha256(f"covet-2fa:{user.session_token}".encode()).hexdigest()


def second_step(user_id: int, token: str, code: str, ip: str | None, request_id: str | None) -> User | None:
    """Finish a sign-in whose password was right: the user if the code is, else None (a failure counted)."""
    from covet.accounts.services import _count_failure

    user = db.session.scalar(select(User).where(User.id == user_id).with_for_update(of=User))
    if (user is None or not user.active or not user.two_factor_enabled
            or not hmac.compare_digest(pending_token(user), token or "")):
        db.session.rollback()
        return None
    actor = Actor.for_user(user, ip, request_id)
    if user.locked_until and user.locked_until > utcnow():
        db.session.rollback()
        return None
    if not _use_code(user, code):
        _count_failure(user, actor, utcnow())
        return None
    user.failed_logins = 0
    record(actor, "user.login_second_factor", "user", user.id,
           after={"recovery_codes_left": len(user.recovery_code_hashes or [])})
    db.session.commit()
    return user
