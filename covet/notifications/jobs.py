"""RQ entry points for email."""
from covet.jobs import job
from covet.notifications import services


@job(queue="high", timeout=60, retry=(30, 120, 600, 1800, 3600))
def deliver_email(outbox_id: int) -> str:
    """Send one outbox email (a second run is a no-op)."""
    return services.deliver(outbox_id)


@job(queue="high", timeout=120, retry=())
def requeue_stalled_emails() -> int:
    """Scheduled: pick up emails whose worker died mid-send or whose job was lost."""
    return services.requeue_stalled()
