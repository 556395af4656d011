"""Two-step sign-in for admins and staff: TOTP codes once each, recovery codes once each, locks, expiry."""
import re
import time

import pyotp
import pytest

from covet.accounts import two_factor
from covet.accounts.models import User
from covet.extensions import db
from tests.conftest import PASSWORD, csrf_from, login

SETTINGS = "/admin/account/two-factor"


def _now_code(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps_ahead * two_factor.STEP_SECONDS)


def _post(client, path: str, **data):
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **data})


def _enable(client) -> tuple[str, list[str]]:
    """Turn two-step sign-in on through the settings page; (secret, recovery codes)."""
    page = client.get(SETTINGS).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = client.post(SETTINGS, data={"csrf_token": csrf_from(page), "action": "enable",
                                       "code": _now_code(secret)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    return secret, codes


def _sign_out(client):
    page = client.get("/admin/account/password").get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": csrf_from(page)})


def _code_step(client, code: str):
    return _post(client, "/admin/login/code", code=code)


@pytest.fixture
def enrolled(client, login_as):
    user = login_as("staff")
    secret, codes = _enable(client)
    _sign_out(client)
    return user, secret, codes


def test_turning_it_on_needs_a_right_code_and_shows_recovery_codes_once(client, login_as):
    user = login_as("admin")
    page = client.get(SETTINGS).get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert f"otpauth://totp/Covet:{user.email.replace('@', '%40')}?secret={secret}" in page
    wrong = client.post(SETTINGS, data={"csrf_token": csrf_from(page), "action": "enable", "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right" in wrong.get_data(as_text=True)
    assert not db.session.get(User, user.id).two_factor_enabled
    _enable(client)
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored.two_factor_enabled and len(stored.recovery_code_hashes) == 10
    assert "recovery-codes" not in client.get(SETTINGS).get_data(as_text=True)  # never shown again


def test_merchants_have_no_two_factor_page(client, login_as):
    login_as("merchant")
    assert client.get(SETTINGS).status_code == 403


def test_the_password_alone_no_longer_signs_in(client, enrolled):
    user, secret, _ = enrolled
    response = login(client, user.email)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/login/code")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    assert _code_step(client, "123456").status_code == 422
    assert _code_step(client, _now_code(secret)).status_code == 422  # the step that turned it on: used
    signed_in = _code_step(client, _now_code(secret, 1))
    assert signed_in.status_code == 303 and client.get("/admin/").status_code == 200


def test_a_code_works_once(client, enrolled):
    user, secret, _ = enrolled
    login(client, user.email)
    code = _now_code(secret, 1)  # the current step was used to turn it on
    assert _code_step(client, code).status_code == 303
    _sign_out(client)
    login(client, user.email)
    assert _code_step(client, code).status_code == 422  # the same code, replayed
    assert client.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(client, enrolled):
    user, _, codes = enrolled
    login(client, user.email)
    assert _code_step(client, codes[0].upper().replace("-", " ")).status_code == 303
    _sign_out(client)
    login(client, user.email)
    assert _code_step(client, codes[0]).status_code == 422
    assert _code_step(client, codes[1]).status_code == 303
    db.session.expire_all()
    assert len(db.session.get(User, user.id).recovery_code_hashes) == 8


def test_the_code_page_without_a_password_step_goes_back_to_sign_in(client, enrolled):
    _, secret, _ = enrolled
    assert client.get("/admin/login/code").headers["Location"].endswith("/admin/login")
    page = client.get("/admin/login").get_data(as_text=True)
    forged = client.post("/admin/login/code", data={"csrf_token": csrf_from(page), "code": _now_code(secret)})
    assert forged.status_code == 303 and client.get("/admin/").status_code == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, client, enrolled):
    user, secret, _ = enrolled
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        login(client, user.email)
        _code_step(client, "000000")
    db.session.expire_all()
    assert db.session.get(User, user.id).locked_until is not None
    assert login(client, user.email).status_code == 422  # locked: the password is refused too


def test_turning_it_off_needs_the_password_and_a_code(client, enrolled):
    user, secret, codes = enrolled
    login(client, user.email)
    assert _code_step(client, _now_code(secret, 1)).status_code == 303
    refused = _post(client, SETTINGS, action="disable", current_password="not my password", code=codes[0])
    assert refused.status_code == 422 and "not your current password" in refused.get_data(as_text=True)
    assert _post(client, SETTINGS, action="disable", current_password=PASSWORD, code="000000").status_code == 422
    done = _post(client, SETTINGS, action="disable", current_password=PASSWORD, code=codes[0])
    assert done.status_code == 303
    db.session.expire_all()
    assert not db.session.get(User, user.id).two_factor_enabled
    _sign_out(client)
    assert login(client, user.email).headers["Location"].endswith("/admin/")


@pytest.mark.parametrize("code", ["", "12345", "1234567", "١٢٣٤٥٦", "abcdef"])
def test_malformed_codes_never_match(code):
    secret = pyotp.random_base32()
    assert two_factor.matching_step(secret, code, None) is None


def test_drift_of_one_step_is_accepted_and_older_steps_are_not(monkeypatch):
    secret, now = pyotp.random_base32(), 1_800_000_000.0
    step = int(now // 30)
    totp = pyotp.TOTP(secret)
    assert two_factor.matching_step(secret, totp.generate_otp(step - 1), None, now) == step - 1
    assert two_factor.matching_step(secret, totp.generate_otp(step - 2), None, now) is None
    assert two_factor.matching_step(secret, totp.generate_otp(step), step, now) is None  # used already
