"""Argon2id hashing with parameters from the configuration; what a new password must not be."""
from __future__ import annotations

import functools
import gzip
import string
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

# The 100,000 most common passwords (source and licence: data/README.md), plus words of this site.
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords-100k.txt.gz"
SITE_WORDS = frozenset({"covet", "covetcovet", "covetadmin", "changeme", "administrator", "letmein"})
MIN_LENGTH, MAX_LENGTH = 12, 1024  # NIST SP 800-63B: long passphrases welcome, a bound against abuse
PADDING = string.digits + string.punctuation + " "


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


@functools.cache
def common_passwords() -> frozenset[str]:
    """The list, in lower case (read once per process, on the first password set)."""
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8", errors="replace") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip()) | SITE_WORDS


def is_common(password: str) -> bool:
    """On the list as it is, once digits and symbols are trimmed ("Dragon2024!" is "dragon"), or doubled."""
    lowered = password.lower()
    core = lowered.strip(PADDING)
    half = core[:len(core) // 2]
    doubled = half if half and half * 2 == core else ""
    return any(word in common_passwords() for word in (lowered, core, doubled) if word)


def password_problem(password: str, email: str = "") -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if len(set(password)) < 4:
        return "That password is too easy to guess: use more different characters."
    if is_common(password):
        return ("That password is one of the 100,000 most common, so it is guessed first. "
                "Choose another, such as a few unrelated words.")
    if email and password.lower() == email.lower():
        return "The password cannot be your email address."
    return None
