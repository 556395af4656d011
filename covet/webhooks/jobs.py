"""RQ entry point for Stripe events (high queue)."""
from covet.jobs import job
from covet.webhooks import services


@job(queue="high", timeout=60, retry=(10, 30, 120, 600, 1800))
def process_stripe_event(event_row_id: int) -> str:
    """Apply one stored Stripe event (a second run converges to the same state)."""
    return services.process(event_row_id)
