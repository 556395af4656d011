"""An admin retries a failed job and opens rq-dashboard, in Chromium against real Redis."""
from playwright.sync_api import expect
from rq import Queue, SimpleWorker

from covet.jobs import enqueue
from tests.browser.test_admin_shell import _sign_in
from tests.conftest import requires_redis_server
from tests.jobs import sample_jobs


@requires_redis_server  # the served app has its own Redis client: it cannot share an in-process fake
def test_retry_a_failed_job_then_inspect_queues(live_server, page_factory, make_user, make_store, db, redis_conn):
    admin = make_user("admin")
    enqueue(sample_jobs.fail_unless_store_named, make_store("noor").id, "Atelier Noor")
    db.session.commit()
    SimpleWorker([Queue("default", connection=redis_conn)], connection=redis_conn).work(burst=True)

    page = page_factory()
    _sign_in(page, live_server, admin.email)
    page.click("nav a:has-text('Jobs')")
    expect(page.locator("#failed-jobs tbody tr")).to_have_count(1)
    expect(page.locator("#failed-jobs")).to_contain_text("RuntimeError")
    expect(page.locator("#queue-default")).to_contain_text("1 failed")
    page.click("#failed-jobs button:has-text('Retry')")
    expect(page.locator(".toast")).to_have_text("Job queued again.")
    expect(page.locator("#failed-jobs")).to_contain_text("No failed jobs.")
    expect(page.locator("#queue-default")).to_contain_text("0 failed")  # swapped out of band

    page.goto(f"{live_server}/admin/rq/")
    expect(page.locator("table tbody")).to_contain_text("default")  # its scripts ran under its CSP
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
