"""rq-dashboard is mounted for admins only, with its own CSP and a guard on its writes."""
import pytest

from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="rq-dashboard is mounted only with REDIS_URL")


def test_admin_sees_the_dashboard_others_do_not(client, login_as, redis_conn):
    login_as("admin")
    page = client.get("/admin/rq/")
    assert page.status_code == 200 and "'unsafe-eval'" in page.headers["Content-Security-Policy"]
    assert client.get("/admin/rq/0/data/queues.json").status_code == 200


def test_its_scripts_run_by_hash_never_inline_markup(client, login_as, redis_conn):
    import base64
    import hashlib
    import re

    login_as("admin")
    page = client.get("/admin/rq/")
    script_src = re.search(r"script-src ([^;]*)", page.headers["Content-Security-Policy"]).group(1).split()
    assert "'unsafe-inline'" not in script_src
    [inline] = re.findall(rb'<script type="text/javascript">(.*?)</script>', page.get_data(), re.DOTALL)
    assert f"'sha256-{base64.b64encode(hashlib.sha256(inline).digest()).decode()}'" in script_src


@pytest.mark.parametrize("role", ["staff", "merchant"])
def test_not_for_staff_or_merchants(client, login_as, role, redis_conn):
    login_as(role)
    assert client.get("/admin/rq/").status_code == 403


def test_signed_out_is_sent_to_login(client, redis_conn):
    response = client.get("/admin/rq/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_writes_need_the_ajax_header_and_no_state_changing_get(client, login_as, redis_conn):
    login_as("admin")
    assert client.post("/admin/rq/job/abc/delete").status_code == 400  # a forged cross-site form
    assert client.get("/admin/rq/requeue/default").status_code == 405
    ajax = client.post("/admin/rq/requeue/default", headers={"X-Requested-With": "XMLHttpRequest"})
    assert ajax.status_code == 200


def test_our_own_pages_keep_the_strict_policy(client, login_as, redis_conn):
    login_as("admin")
    assert "unsafe-inline" not in client.get("/admin/jobs/").headers["Content-Security-Policy"]
