"""Sign-in, lockout, rate limits, sessions, sign-out and password change."""
import datetime as dt

from argon2 import PasswordHasher

from covet.accounts.models import User
from covet.audit.models import AuditLog
from covet.dbtypes import utcnow
from tests.conftest import PASSWORD, build_app, csrf_from, login


def test_sign_in_lands_on_dashboard_and_records_it(client, make_user, db):
    user = make_user("staff")
    response = login(client, user.email.upper())  # emails are case-insensitive
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and user.email in page.get_data(as_text=True)
    db.session.refresh(user)
    assert user.last_login_at is not None
    assert db.session.query(AuditLog).filter_by(action="user.login", entity_id=str(user.id)).count() == 1


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_user):
    user = make_user("staff")
    wrong = login(client, user.email, "not the password at all")
    unknown = login(client, "nobody@covet.test", "not the password at all")
    assert wrong.status_code == unknown.status_code == 422

    def message(r):
        text = r.get_data(as_text=True)
        return text[text.index('id="login-error"'):text.index("</div>", text.index('id="login-error"'))]
    assert message(wrong) == message(unknown)


def test_account_locks_after_repeated_failures_then_unlocks(app, client, make_user, db):
    user = make_user("staff")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, user.email, "wrong wrong wrong").status_code == 422
    db.session.refresh(user)
    assert user.locked_until is not None and user.locked_until > utcnow()
    assert login(client, user.email).status_code == 422  # right password, still locked
    user.locked_until = utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    assert login(client, user.email).status_code == 303


def test_rate_limit_per_account(database_url, tmp_path, make_user):
    """Attempts on one account are limited whatever IP they come from."""
    app = build_app(database_url, tmp_path, LOGIN_RATE_LIMIT_ACCOUNT="3 per minute", LOGIN_MAX_FAILURES=100)
    user = make_user("staff")
    statuses = [login(app.test_client(), user.email, f"wrong-{i}-password").status_code for i in range(4)]
    assert statuses == [422, 422, 422, 429]
    other = make_user("staff")
    assert login(app.test_client(), other.email).status_code == 303


def test_rate_limit_per_ip_across_accounts(database_url, tmp_path, make_user):
    app = build_app(database_url, tmp_path, LOGIN_RATE_LIMIT_IP="3 per minute")
    client = app.test_client()
    statuses = [login(client, f"someone{i}@covet.test", "whatever-password").status_code for i in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_password_is_rehashed_when_parameters_change(app, client, make_user, db):
    old_hash = PasswordHasher(time_cost=2, memory_cost=16, parallelism=2).hash(PASSWORD)
    user = make_user("staff")
    user.password_hash = old_hash
    db.session.commit()
    assert login(client, user.email).status_code == 303
    db.session.refresh(user)
    assert user.password_hash != old_hash and user.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_login_starts_a_new_session(app, client, make_user):
    user = make_user("staff")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, user.email)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_logout_kills_copied_cookies_too(app, client, make_user):
    user = make_user("staff")
    login(client, user.email)
    stolen = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    page = client.get("/admin/")
    response = client.post("/admin/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/login"
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    assert thief.get("/admin/").status_code == 302


def test_logout_requires_post_with_csrf(client, login_as):
    login_as("staff")
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200


def test_login_form_without_csrf_is_refused(client, make_user):
    user = make_user("staff")
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400 and "session expired" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_next_only_goes_to_same_site_paths(client, make_user):
    user = make_user("staff")
    page = client.get("/admin/login?next=https://evil.example/")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/admin/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token,
                                                 "next": "https://evil.example/"})
    assert response.headers["Location"] == "/admin/"


def _change(client, current, new, confirm=None, headers=None):
    page = client.get("/admin/account/password")
    return client.post("/admin/account/password", headers=headers or {}, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "current_password": current,
        "new_password": new, "confirm_password": confirm if confirm is not None else new})


def test_password_change_validates_inline(client, login_as, htmx_headers):
    login_as("staff")
    response = _change(client, "not my password", "short", headers=htmx_headers)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in body and 'id="password-form"' in body
    assert "That is not your current password." in body and "at least 12 characters" in body


def test_password_change_signs_out_other_sessions(app, client, login_as, db):
    user = login_as("staff")
    other = app.test_client()
    login(other, user.email)
    response = _change(client, PASSWORD, "a much better passphrase 42")
    assert response.status_code == 303
    assert "Password changed" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/admin/").status_code == 200  # this session continues
    assert other.get("/admin/").status_code == 302  # the other one is gone
    assert login(app.test_client(), user.email, "a much better passphrase 42").status_code == 303


def test_password_change_htmx_redirects_with_header(client, login_as, htmx_headers):
    login_as("merchant")
    response = _change(client, PASSWORD, "another strong passphrase", headers=htmx_headers)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/admin/account/password"


def test_inactive_user_cannot_sign_in(client, make_user):
    user = make_user("staff", active=False)
    assert login(client, user.email).status_code == 422


def test_production_session_cookie_flags(database_url, tmp_path, make_user):
    app = build_app(database_url, tmp_path, COVET_ENV="production", SESSION_COOKIE_SECURE=True,
                    SESSION_COOKIE_NAME="__Host-covet")
    user = make_user("staff")
    client = app.test_client()
    page = client.get("/admin/login", base_url="https://localhost")
    response = client.post("/admin/login", base_url="https://localhost",
                           headers={"Referer": "https://localhost/admin/login"}, data={
        "email": user.email, "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-covet=")][-1]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


def test_user_row_stores_lowercase_email(db, make_user):
    user = make_user("admin", email="Mixed.Case@Covet.TEST")
    assert db.session.get(User, user.id).email == "mixed.case@covet.test"
