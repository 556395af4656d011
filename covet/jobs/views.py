"""/admin/jobs: queues, workers, scheduled and failed jobs, with Retry and Delete."""
from __future__ import annotations

import re

from flask import Blueprint, abort, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from covet.jobs import progress, queries, services
from covet.redis_client import get_redis
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.policy import EVERYONE, allow

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # what RQ accepts (Job.fetch raises ValueError on anything else)


def _job_id_or_404(job_id: str) -> str:
    if not JOB_ID.fullmatch(job_id):
        abort(404)
    return job_id


def _page_context() -> dict:
    connection = get_redis()
    context = {"embedded": connection is None, "outbox": queries.outbox_summary()}
    if connection is not None:
        context.update(queues=queries.queue_overview(connection), workers=queries.workers(connection),
                       scheduled=queries.scheduled_jobs(connection), failed=queries.failed_jobs(connection))
    return context


@bp.get("/")
@allow("admin")
def jobs_index():
    """Everything about background work on one page."""
    return render_page("jobs/index.html", "failed_jobs", **_page_context())


def _act(action, key, done_message: str):
    """Run an admin action; htmx gets the failed-jobs list and queue counts again, a plain form a redirect."""
    _job_id_or_404(str(key))  # an outbox row id, or an RQ job id from the URL
    try:
        action(key)
    except services.JobNotFoundError:
        abort(404)
    toast(done_message)
    if not is_fragment_request():
        return redirect_after_post(url_for("jobs.jobs_index"))
    context = _page_context()
    body = render_block("jobs/index.html", "failed_jobs", **context)
    if not context["embedded"]:
        body += render_block("jobs/index.html", "queue_cards", oob=True, **context)
    return body


@bp.post("/failed/<job_id>/retry")
@allow("admin")
def failed_job_retry(job_id: str):
    """Put a failed job back on its queue."""
    return _act(lambda k: services.retry_failed_job(_redis_or_404(), k, current_actor()), job_id, "Job queued again.")


@bp.post("/failed/<job_id>/delete")
@allow("admin")
def failed_job_delete(job_id: str):
    """Delete a failed job."""
    return _act(lambda k: services.delete_failed_job(_redis_or_404(), k, current_actor()), job_id, "Job deleted.")


@bp.post("/outbox/<int:row_id>/retry")
@allow("admin")
def outbox_retry(row_id: int):
    """Run a failed in-process job again."""
    return _act(lambda k: services.retry_outbox_row(k, current_actor()), row_id, "Job queued again.")


@bp.post("/outbox/<int:row_id>/delete")
@allow("admin")
def outbox_delete(row_id: int):
    """Delete a failed in-process job."""
    return _act(lambda k: services.delete_outbox_row(k, current_actor()), row_id, "Job deleted.")


def _redis_or_404():
    connection = get_redis()
    if connection is None:
        abort(404)
    return connection


@bp.get("/<job_id>/progress")
@allow(*EVERYONE)
def job_progress(job_id: str):
    """A job's progress bar; htmx polls it until the job finishes or fails."""
    _job_id_or_404(job_id)
    if current_user.role != "admin" and progress.owner_of(job_id) != current_user.id:
        abort(404)
    state = progress.job_progress(job_id)
    return render_page("jobs/progress.html", "job_progress", progress=state)
