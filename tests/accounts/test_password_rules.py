"""A new password: 12 to 1024 characters, not one of the 100,000 most common (nor one padded or doubled)."""
import gzip
import secrets

import pytest

from covet.accounts.passwords import COMMON_PASSWORDS_FILE, common_passwords, password_problem
from tests.accounts.test_auth import _change
from tests.conftest import PASSWORD

COMMON = "That password is one of the 100,000 most common"


def test_the_list_is_the_100k_most_common():
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        entries = [line.rstrip("\n") for line in lines]
    assert len(entries) == 100_000 and entries[:4] == ["123456", "password", "12345678", "qwerty"]
    assert len(common_passwords()) > 95_000  # case-folded duplicates collapse


@pytest.mark.parametrize("password", [
    "password1234",      # listed (#31,873)
    "qwertyuiop12",
    "Tojiik85521133",    # listed, deep in the list (#90,811)
    "WEIHNACHTSBAU",     # case does not matter
    "Dragon2024!!",      # "dragon" with digits and symbols around it
    "!!1michael1985",
    "passwordpassword",
    "monkeymonkey",      # a listed word, doubled
    "covetcovet12",      # this site's name
])
def test_common_passwords_are_refused_with_the_reason(password):
    assert password_problem(password).startswith(COMMON)


@pytest.mark.parametrize("password", [PASSWORD, "Tr4vel-Mug-Orbit", "Granite pelican voyage 42"])
def test_uncommon_passwords_pass(password):
    assert password_problem(password) is None


def test_length_bounds():
    assert password_problem("k9#Lm2$pQ7w") == "Use at least 12 characters."  # 11
    assert password_problem(secrets.token_urlsafe(768)[:1024]) is None
    assert password_problem(secrets.token_urlsafe(800)[:1025]) == "Use at most 1024 characters."
    assert "different characters" in password_problem("abcabcabcabc")


def test_the_change_form_says_why(client, login_as, htmx_headers):
    login_as("staff")
    response = _change(client, PASSWORD, "Password1234!", headers=htmx_headers)
    assert response.status_code == 422 and COMMON in response.get_data(as_text=True)


def test_a_long_passphrase_can_be_set_and_used_to_sign_in(app, client, login_as):
    from tests.conftest import login

    user = login_as("staff")
    passphrase = " ".join(["lantern", "orchard", "quietly", "copper", "meridian"] * 25)[:700]
    assert _change(client, PASSWORD, passphrase).status_code == 303
    assert login(app.test_client(), user.email, passphrase).status_code == 303
    assert _change(client, passphrase, passphrase + "x" * 400).status_code == 422  # over 1024
