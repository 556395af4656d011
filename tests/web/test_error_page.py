"""Answers that used to fail on their way out: a database error's page, odd job ids, odd export tokens."""
import pytest
from sqlalchemy import text


def test_a_database_error_gets_the_500_page_not_a_second_failure(app, client, login_as, db):
    def broken():
        db.session.execute(text("SELECT no_such_column FROM no_such_table"))

    app.add_url_rule("/admin/broken-for-test", "broken_for_test", broken)
    app.view_functions["broken_for_test"].allowed_roles = frozenset({"admin"})
    login_as("admin")
    response = client.get("/admin/broken-for-test")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 200  # the session is usable again


@pytest.mark.parametrize("job_id", ["x" * 300, "a.b", "é"])
def test_a_job_id_rq_would_refuse_is_a_404(client, login_as, redis_conn, job_id):
    login_as("admin")
    assert client.get(f"/admin/jobs/{job_id}/progress").status_code == 404


@pytest.mark.parametrize("token", ["x" * 300, "9" * 5000, "é"])
def test_an_export_token_we_never_issue_is_a_404(client, login_as, token):
    login_as("staff")
    assert client.get(f"/admin/orders/exports/{token}.csv").status_code == 404
