"""Markup carried in a job argument shows as text on rq-dashboard and never runs, in Chromium."""
from playwright.sync_api import expect
from rq import Queue

from tests.browser.test_admin_shell import _sign_in
from tests.conftest import requires_redis_server
from tests.jobs import sample_jobs

PAYLOAD = '<img src="x" onerror="window.pwned=1">'


@requires_redis_server
def test_a_job_argument_with_markup_does_not_run_on_the_dashboard(live_server, page_factory, make_user, redis_conn):
    admin = make_user("admin")
    # Straight onto the queue, as if a key had slipped past the form's check: the policy is the last wall.
    job = Queue("default", connection=redis_conn).enqueue(sample_jobs.rename_store, 1, PAYLOAD)
    page = page_factory()
    _sign_in(page, live_server, admin.email)
    expect(page).to_have_url(f"{live_server}/admin/")

    page.goto(f"{live_server}/admin/rq/0/view/job/{job.id}")
    expect(page.locator("#job-data")).to_contain_text("rename_store")  # its own scripts ran: the data was loaded
    expect(page.locator("#job-data img[src=x]")).to_be_attached()  # the markup is in the page…
    assert page.evaluate("window.pwned") is None  # …but its handler never ran
    refused = [e for e in page.console_errors if "Content Security Policy" in e]
    assert refused and all("inline" in e for e in refused), page.console_errors

    page.goto(f"{live_server}/admin/rq/0/view/jobs/default/queued/8/asc/1")
    expect(page.locator("table tbody")).to_contain_text(job.id)
    assert page.evaluate("window.pwned") is None
