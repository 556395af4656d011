"""Job functions used by the tests (importable by RQ workers, including a subprocess worker)."""
from sqlalchemy import select

from covet.extensions import db
from covet.jobs import job
from covet.stores.models import Store


@job(queue="default", timeout=30, retry=())
def rename_store(store_id: int, name: str) -> str:
    """Write something we can see: the store's name."""
    store = db.session.get(Store, store_id)
    store.name = name
    db.session.commit()
    return name


@job(queue="default", timeout=30, retry=())
def fail_unless_store_named(store_id: int, expected: str) -> str:
    """Fail until the store has the expected name (lets a test fix the cause, then retry)."""
    name = db.session.scalar(select(Store.name).where(Store.id == store_id))
    if name != expected:
        raise RuntimeError(f"store {store_id} is named {name!r}, not {expected!r}")
    store = db.session.get(Store, store_id)
    store.support_email = "done@covet.test"
    db.session.commit()
    return "ok"


@job(queue="high", timeout=30, retry=(1, 1))
def always_fails() -> None:
    raise RuntimeError("boom")


@job(queue="low", timeout=30, retry=())
def count_to(total: int) -> int:
    """Report progress as it goes (what imports and exports do)."""
    from covet.jobs.progress import report_progress

    for done in range(1, total + 1):
        report_progress(done, total, f"row {done}", result_url="/admin/jobs/" if done == total else None)
    return total


@job(queue="default", timeout=30, retry=())
def rename_store_after_first_try_hangs(store_id: int, name: str, token: str) -> str:
    """The first run (per token) says so on `covet-test:started:<token>` and then hangs until its worker is
    killed; later runs rename the store. Lets a test kill a worker mid-job at a known point, without sleeps."""
    from covet.redis_client import get_redis

    connection = get_redis()
    if connection.set(f"covet-test:hung:{token}", "1", nx=True, ex=600):
        connection.rpush(f"covet-test:started:{token}", store_id)
        connection.blpop(["covet-test:never"], timeout=120)
        raise RuntimeError("the test should have killed this worker")
    return rename_store(store_id, name)
