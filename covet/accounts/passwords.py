"""Argon2id hashing with parameters from the configuration."""
from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

COMMON_PASSWORDS = {"password1234", "123456789012", "qwertyuiop12", "letmein12345", "covetcovet12",
                    "passwordpassword", "changeme1234", "administrator"}
MIN_LENGTH, MAX_LENGTH = 12, 256


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"],
                          parallelism=cfg["ARGON2_PARALLELISM"], type=Type.ID)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def burn_verification_time() -> None:
    """Spend the time a real verification takes, so unknown emails answer as slowly as wrong passwords."""
    cache = current_app.extensions.setdefault("covet_dummy_hash", {})
    key = (current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_COST"])
    if key not in cache:
        cache[key] = hash_password("not-a-real-password-for-timing")
    verify_password(cache[key], "wrong-password-for-timing")


def password_problem(password: str, email: str = "") -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "That password is too easy to guess."
    if email and password.lower() == email.lower():
        return "The password cannot be your email address."
    return None
