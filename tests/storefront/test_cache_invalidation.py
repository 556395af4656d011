"""Cache invalidation: purge by tag, bursts coalesced into one run, CloudFront and the revalidate hook.

Real peers only: Redis (or fakeredis in embedded mode), RQ's SimpleWorker, moto's CloudFront server and a
revalidate endpoint on 127.0.0.1.
"""

import pytest
from sqlalchemy import select

from covet.jobs.models import JobOutbox
from covet.storefront import jobs
from covet.storefront.cache import (
    PurgeResult,
    cache_redis,
    cached_page,
    key,
    page_key,
    purge,
    request_invalidation,
    store_page,
)
from covet.storefront.jobs import RevalidateError, purge_pending_tags
from tests.conftest import REDIS_URL, free_port

PURGE_JOB = "covet.storefront.jobs.purge_pending_tags"
NOTHING = {"tags": 0, "keys_deleted": 0, "paths": 0, "cloudfront_paths": 0, "revalidated": 0}


def store_catalog():
    store_page("/p/1", "<h1>Lamp</h1>", ["product:1", "store:1", "listing"], 300)
    store_page("/p/1/reviews", "<h1>Reviews</h1>", ["product:1"], 300)
    store_page("/p/2", "<h1>Vase</h1>", ["product:2", "store:1", "listing"], 300)
    store_page("/s/1", "<h1>Maison</h1>", ["store:1"], 300)
    store_page("/", "<h1>Home</h1>", ["listing"], 300)


def purge_runs(log_lines):
    return [line for line in log_lines() if line["message"] == "cache_purged"]


def outbox_jobs(db):
    return list(db.session.scalars(select(JobOutbox.func)))


def test_store_page_registers_the_page_under_each_tag(app):
    store_page("/p/1", "<h1>Lamp</h1>", ["product:1", "listing"], 300)
    client = cache_redis()
    assert cached_page("/p/1") == b"<h1>Lamp</h1>"
    assert 0 < client.ttl(page_key("/p/1")) <= 300
    assert client.smembers(key("tag:product:1")) == {page_key("/p/1").encode()}
    assert 0 < client.ttl(key("tag:listing")) <= 300
    with pytest.raises(TypeError):
        store_page("/p/1", "x", "product:1", 300)  # one string would be read as tags "p", "r", …


def test_purge_deletes_exactly_the_tagged_pages(app):
    store_catalog()
    cache_redis().set(key("session:abc"), "not a page")

    assert purge(["product:1"]) == PurgeResult(keys_deleted=2, paths=("/p/1", "/p/1/reviews"))
    assert cached_page("/p/1") is None and cached_page("/p/1/reviews") is None
    assert [cached_page(path) for path in ("/p/2", "/s/1", "/")] == [b"<h1>Vase</h1>", b"<h1>Maison</h1>",
                                                                       b"<h1>Home</h1>"]
    assert not cache_redis().exists(key("tag:product:1"))
    assert cache_redis().get(key("session:abc")) == b"not a page"

    # /p/1 was already gone: its path is still affected (CloudFront may hold it), but not counted twice.
    assert purge(["store:1", "listing"]) == PurgeResult(keys_deleted=3, paths=("/", "/p/1", "/p/2", "/s/1"))
    assert purge(["product:404"]) == PurgeResult(keys_deleted=0, paths=())


def test_fifty_changes_in_one_transaction_make_one_job(app, db, run_jobs, log_lines):
    store_catalog()
    job_ids = [request_invalidation(["product:1"]) for _ in range(50)]
    scheduled = [job_id for job_id in job_ids if job_id]
    assert len(scheduled) == 1
    assert outbox_jobs(db) == [PURGE_JOB]
    db.session.commit()

    [ran] = run_jobs(*scheduled)
    assert ran.status == "finished"
    assert cached_page("/p/1") is None and cached_page("/p/2") == b"<h1>Vase</h1>"
    [line] = purge_runs(log_lines)
    assert line["tags"] == 1 and line["keys_deleted"] == 2 and line["paths"] == 2


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: the in-process runner ignores delay_seconds, so an "
                    "embedded run can finish between two commits (see covet/jobs/embedded.py)")
def test_fifty_commits_within_the_window_make_one_run(app, db, make_store, run_jobs, log_lines):
    # A window far wider than the burst, so the test never depends on how fast this machine is.
    app.config["CACHE_COALESCE_MS"] = 120_000
    store_catalog()
    store = make_store("maison")
    job_ids = []
    for n in range(50):
        store.name = f"Maison {n}"
        job_ids.append(request_invalidation([f"store:{store.id}", "product:1"]))
        db.session.commit()
    scheduled = [job_id for job_id in job_ids if job_id]
    assert len(scheduled) == 1

    [ran] = run_jobs(*scheduled)
    assert ran.status == "finished"
    assert len(purge_runs(log_lines)) == 1
    assert cached_page("/p/1") is None


def test_rolled_back_change_schedules_nothing_and_frees_the_flag(app, db):
    assert request_invalidation(["product:1"]) is not None
    db.session.rollback()
    assert outbox_jobs(db) == []
    assert not cache_redis().exists(key("invalidate:scheduled"))
    assert request_invalidation(["product:2"]) is not None  # the next change is not left waiting
    db.session.rollback()


def test_worker_run_purges_and_a_second_run_does_nothing(app, db, run_jobs, log_lines):
    store_catalog()
    job_id = request_invalidation(["product:1", "listing"])
    db.session.commit()
    [ran] = run_jobs(job_id)
    assert ran.status == "finished"
    assert [cached_page(path) for path in ("/p/1", "/p/1/reviews", "/p/2", "/", "/s/1")] == \
        [None, None, None, None, b"<h1>Maison</h1>"]
    assert not cache_redis().exists(key("invalidate:scheduled"), key("invalidate:pending"))

    assert purge_pending_tags(job_id) == NOTHING
    assert purge_pending_tags() == NOTHING
    assert len(purge_runs(log_lines)) == 1


def test_a_change_during_a_run_schedules_the_next_run(app, db, run_jobs, monkeypatch):
    store_catalog()
    client = cache_redis()
    client.sadd(key("invalidate:pending"), "product:1")
    client.set(key("invalidate:scheduled"), "run-1")  # as a request would have left them
    later = []
    real_purge = jobs.purge

    def purge_while_a_change_lands(tags):
        later.append(request_invalidation(["product:2"]))
        return real_purge(tags)

    monkeypatch.setattr(jobs, "purge", purge_while_a_change_lands)
    assert purge_pending_tags("run-1")["keys_deleted"] == 2
    monkeypatch.undo()
    assert later[0] is not None, "the run had cleared the flag, so the change scheduled its own run"
    db.session.commit()
    run_jobs(*later)
    assert cached_page("/p/2") is None


def test_cloudfront_gets_one_invalidation_for_the_affected_paths(app, db, cloudfront, run_jobs):
    store_catalog()
    job_id = request_invalidation(["product:1"])
    assert request_invalidation(["store:1"]) is None
    db.session.commit()
    [ran] = run_jobs(job_id)
    assert ran.status == "finished"

    distribution = app.config["CLOUDFRONT_DISTRIBUTION_ID"]
    [item] = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"]
    assert sorted(batch["InvalidationBatch"]["Paths"]["Items"]) == ["/p/1", "/p/1/reviews", "/p/2", "/s/1"]
    assert batch["InvalidationBatch"]["CallerReference"].startswith("covet-")


def test_more_paths_than_a_batch_holds_invalidate_everything(app, db, cloudfront, run_jobs):
    pipe_size = jobs.MAX_INVALIDATION_PATHS + 1
    for n in range(pipe_size):
        store_page(f"/p/9/variant/{n}", "x", ["product:9"], 300)
    job_id = request_invalidation(["product:9"])
    db.session.commit()
    run_jobs(job_id)
    distribution = app.config["CLOUDFRONT_DISTRIBUTION_ID"]
    [item] = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"]
    assert batch["InvalidationBatch"]["Paths"] == {"Quantity": 1, "Items": ["/*"]}


def test_revalidate_posts_once_per_path_with_the_secret(app, db, revalidate, run_jobs):
    store_catalog()
    job_id = request_invalidation(["product:1"])
    db.session.commit()
    run_jobs(job_id)
    assert sorted(call["query"]["path"] for call in revalidate.calls) == ["/p/1", "/p/1/reviews"]
    for call in revalidate.calls:
        assert call["method"] == "POST" and call["path"] == "/api/revalidate"
        assert call["secret"] == "s3cret" and call["query"]["secret"] == "s3cret"


def test_revalidate_retries_a_server_error(app, db, revalidate, run_jobs, log_lines):
    store_page("/p/3", "x", ["product:3"], 300)
    revalidate.script.append(500)
    job_id = request_invalidation(["product:3"])
    db.session.commit()
    [ran] = run_jobs(job_id)
    assert ran.status == "finished"
    assert [call["query"]["path"] for call in revalidate.calls] == ["/p/3", "/p/3"]
    assert purge_runs(log_lines)[0]["revalidated"] == 1


def test_unreachable_revalidate_fails_the_job_for_a_retry_but_keeps_the_purge(app, db, run_jobs, revalidate,
                                                                              cloudfront):
    store_catalog()
    distribution = app.config["CLOUDFRONT_DISTRIBUTION_ID"]
    working_url = app.config["REVALIDATE_URL"]
    app.config["REVALIDATE_URL"] = f"http://127.0.0.1:{free_port()}/api/revalidate"
    job_id = request_invalidation(["product:1"])
    db.session.commit()
    [ran] = run_jobs(job_id)
    assert ran.status == "scheduled", "RQ (or the outbox) should retry the job"
    if REDIS_URL:
        assert ran.retries_left == 2
    else:
        assert "RevalidateError" in ran.error and "3 attempts" in ran.error
    assert cached_page("/p/1") is None and cached_page("/p/1/reviews") is None  # the purge stays done
    # Origin first: the edge is not invalidated while the origin would still serve the stale page.
    assert cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Quantity"] == 0

    # The retry resumes the same run: no purge left to do, only the paths the hook has not accepted.
    app.config["REVALIDATE_URL"] = working_url
    counts = purge_pending_tags(*ran.args)
    assert counts["revalidated"] == 2 and counts["keys_deleted"] == 0 and counts["cloudfront_paths"] == 2
    assert sorted(call["query"]["path"] for call in revalidate.calls) == ["/p/1", "/p/1/reviews"]
    assert cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Quantity"] == 1


def test_revalidate_rejecting_the_secret_raises_at_once(app, revalidate):
    store_page("/p/4", "x", ["product:4"], 300)
    cache_redis().sadd(key("invalidate:pending"), "product:4")
    revalidate.script.append(401)
    with pytest.raises(RevalidateError, match="HTTP 401"):
        purge_pending_tags("run-401")
    assert len(revalidate.calls) == 1
