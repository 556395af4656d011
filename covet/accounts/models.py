"""Back-office users and their roles."""
import datetime as dt
import secrets

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from covet.dbtypes import JSONType, TimestampMixin, UTCDateTime, enum_check
from covet.extensions import db

ROLES = ("admin", "staff", "merchant")


def new_session_token() -> str:
    """A random token; changing it signs the user out everywhere."""
    return secrets.token_urlsafe(24)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(enum_check("role", ROLES), name="role_valid"),
        CheckConstraint("role <> 'merchant' OR store_id IS NOT NULL", name="merchant_has_store"),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so the unique constraint is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    session_token: Mapped[str] = mapped_column(String(64), nullable=False, unique=True,
                                               default=new_session_token)
    # Second factor (admins and staff, covet.accounts.two_factor): the TOTP secret (base32), when it was
    # turned on, the last 30-second step accepted (each code works once), SHA-256 of unused recovery codes.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_code_hashes: Mapped[list | None] = mapped_column(JSONType)

    store = relationship("Store", lazy="joined")

    @validates("email")
    def _normalise_email(self, _key, value: str) -> str:
        return value.strip().lower()

    def get_id(self) -> str:
        # Flask-Login keeps this in the session; rotating the token invalidates old cookies.
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None and bool(self.totp_secret)

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "staff")

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"
