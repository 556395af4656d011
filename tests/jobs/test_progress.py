"""Job progress: reported from inside a job, polled by an htmx partial that stops when done."""
from rq import Queue, SimpleWorker

from covet.jobs import enqueue
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.jobs.progress import job_progress, remember_owner
from tests.conftest import build_app
from tests.jobs import sample_jobs

HX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def _start(db, user_id, total=3):
    job_id = enqueue(sample_jobs.count_to, total)
    remember_owner(job_id, user_id)
    db.session.commit()
    return job_id


def test_progress_bar_polls_until_the_rq_job_finishes(app, db, client, login_as, redis_conn):
    user = login_as("merchant")
    job_id = _start(db, user.id)
    queued = client.get(f"/admin/jobs/{job_id}/progress", headers=HX)
    body = queued.get_data(as_text=True)
    assert "<html" not in body and f'id="job-progress-{job_id}"' in body
    assert 'hx-trigger="every 1s"' in body and "Waiting to start" in body

    SimpleWorker([Queue("low", connection=redis_conn)], connection=redis_conn).work(burst=True)
    state = job_progress(job_id)
    assert (state.status, state.done, state.total, state.message) == ("finished", 3, 3, "row 3")
    done = client.get(f"/admin/jobs/{job_id}/progress", headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in done and "Done." in done and 'value="3"' in done  # polling stops
    assert 'href="/admin/jobs/"' in done  # the result link


def test_progress_in_embedded_mode(tmp_path, database_url, db, make_user):
    embedded = build_app(database_url, tmp_path, REDIS_URL=None)
    with embedded.app_context():
        user = make_user("staff")
        job_id = _start(db, user.id, total=5)
        wait_for_embedded_jobs()
        state = job_progress(job_id)
        assert (state.status, state.done, state.total) == ("finished", 5, 5)


def test_only_the_starter_or_an_admin_may_watch(app, db, client, login_as, make_user):
    owner = make_user("staff")
    job_id = _start(db, owner.id)
    wait_for_embedded_jobs()
    login_as("merchant")
    assert client.get(f"/admin/jobs/{job_id}/progress").status_code == 404


def test_without_javascript_the_page_refreshes_itself(app, db, client, login_as, redis_conn):
    user = login_as("staff")
    job_id = _start(db, user.id)
    page = client.get(f"/admin/jobs/{job_id}/progress").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page and "<noscript>" in page
