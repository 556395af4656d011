"""A stored event nothing is working on (its job lost with no outbox row left) is queued again, then failed."""
import datetime as dt

from sqlalchemy import select

from covet.dbtypes import utcnow
from covet.jobs.models import JobOutbox
from covet.webhooks.jobs import process_stripe_event
from covet.webhooks.models import StripeEvent
from covet.webhooks.sweep import GRACE, MAX_ATTEMPTS, requeue_stranded_events


def stored_event(db, event_id: str, attempts: int = 0, age: dt.timedelta = GRACE * 2) -> StripeEvent:
    row = StripeEvent(event_id=event_id, type="checkout.session.expired", payload={"id": event_id},
                      status="pending", attempts=attempts, received_at=utcnow() - age)
    db.session.add(row)
    db.session.commit()
    return row


def outbox_args(db) -> list:
    return [args for args in db.session.scalars(
        select(JobOutbox.args).where(JobOutbox.func == process_stripe_event.path))]


def test_a_stranded_event_is_queued_again_once(app, db, redis_conn):
    stranded = stored_event(db, "evt_stranded")
    stored_event(db, "evt_recent", age=dt.timedelta(seconds=5))  # its job may simply not have run yet
    assert requeue_stranded_events() == 1
    assert outbox_args(db) == [[stranded.id]]
    assert requeue_stranded_events() == 0  # its outbox row now says a job is on its way


def test_an_event_that_never_succeeds_is_failed_for_an_admin(app, db, redis_conn):
    row = stored_event(db, "evt_hopeless", attempts=MAX_ATTEMPTS)
    assert requeue_stranded_events() == 0
    db.session.expire_all()
    assert db.session.get(StripeEvent, row.id).status == "failed"
    assert "gave up" in db.session.get(StripeEvent, row.id).last_error  # none recorded before


def test_the_ack_writes_no_outbox_row_and_a_lost_push_is_found(app, db, redis_conn):
    """The stored event is its own outbox: its job goes to RQ under a fixed id; if Redis loses it, the
    sweep sees no job under that id and queues the event again."""
    from rq.job import Job

    from covet.webhooks.services import event_job_id, store_event
    from tests.webhooks.support import event

    assert store_event(event("checkout.session.expired", {"id": "cs_1", "object": "checkout.session"}))
    row = db.session.scalar(select(StripeEvent))
    assert outbox_args(db) == []
    later = utcnow() + GRACE * 2
    assert requeue_stranded_events(now=later) == 0  # RQ holds its job
    assert Job.exists(event_job_id(row.id), connection=redis_conn)
    redis_conn.flushdb()  # Redis restarted empty
    assert requeue_stranded_events(now=later) == 1
    assert outbox_args(db) == [[row.id]]
