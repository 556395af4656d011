"""The job outbox: a job is written in the same transaction as the change that needs it."""
import datetime as dt

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from covet.dbtypes import JSONType, UTCDateTime, enum_check, utcnow
from covet.extensions import db

# pending: not yet handed to a queue; queued: in RQ, kept until its job finishes (so a job that vanished
# from Redis is found and sent again, see covet.jobs.recovery); failed: no attempt left, for an admin.
OUTBOX_STATUSES = ("pending", "queued", "failed")


class JobOutbox(db.Model):
    """A job not yet run successfully: waiting to be handed to RQ, queued there, or failed for good."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        CheckConstraint(enum_check("status", OUTBOX_STATUSES), name="status_valid"),
        Index("ix_job_outbox_status_locked", "status", "locked_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    func: Mapped[str] = mapped_column(String(200), nullable=False)
    args: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    kwargs: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    queue: Mapped[str] = mapped_column(String(32), nullable=False)
    timeout: Mapped[int] = mapped_column(Integer, nullable=False)
    retry_intervals: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    delay_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Times handed to RQ: more than one means its job was lost once (bounded by covet.jobs.recovery).
    deliveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # Nobody else touches the row before this time: a delivery in progress, or a retry's backoff.
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
