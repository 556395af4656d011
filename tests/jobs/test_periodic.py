"""Scheduled work is booked once per slot, whoever books it and however often."""
import datetime as dt

from rq import Queue
from rq.registry import ScheduledJobRegistry

from covet.jobs.periodic import SCHEDULE, book, book_all, next_slot


def scheduled_ids(connection):
    ids = []
    for name in ("high", "default", "low"):
        ids += ScheduledJobRegistry(queue=Queue(name, connection=connection)).get_job_ids()
    return sorted(ids)


def test_booking_twice_keeps_one_run_per_task(app, redis_conn):
    book_all(redis_conn)
    first = scheduled_ids(redis_conn)
    book_all(redis_conn)  # a second worker starting up
    assert scheduled_ids(redis_conn) == first
    assert len(first) == len(SCHEDULE)
    assert all(job_id.startswith("periodic-") for job_id in first)


def test_next_slot_is_in_the_future_and_aligned():
    now = dt.datetime(2026, 11, 23, 17, 0, 10, tzinfo=dt.UTC)
    job_id, run_at = next_slot("flush-job-outbox", now)
    assert run_at == dt.datetime(2026, 11, 23, 17, 0, 30, tzinfo=dt.UTC)
    assert job_id == f"periodic-flush-job-outbox-{int(run_at.timestamp()) // 30}"


def test_a_run_books_the_following_slot(app, redis_conn):
    now = dt.datetime.now(dt.UTC)
    book(redis_conn, "requeue-stalled-emails", now)
    later = now + dt.timedelta(seconds=60)
    book(redis_conn, "requeue-stalled-emails", later)
    assert len(scheduled_ids(redis_conn)) == 2
