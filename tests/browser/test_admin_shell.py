"""Sign in, change password, sign out, in a real Chromium, with and without JavaScript."""
import os

from playwright.sync_api import expect

from tests.conftest import PASSWORD

SHOTS = os.environ.get("COVET_SCREENSHOTS")  # a folder to keep PNGs of each step, for a human to look at


def _shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _sign_in(page, base, email, password=PASSWORD):
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(f"{base}/admin/login?next=/admin/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _submit_password_form(page, current, new, confirm=None):
    page.fill("input[name=current_password]", current)
    page.fill("input[name=new_password]", new)
    page.fill("input[name=confirm_password]", new if confirm is None else confirm)
    page.click("#password-form button[type=submit]")


def test_sign_in_change_password_with_htmx_and_sign_out(live_server, page_factory, make_user):
    user = make_user("merchant", name="Margot Lune")
    page = page_factory()
    _sign_in(page, live_server, user.email, "wrong password entirely")
    expect(page.locator("#login-error")).to_contain_text("Email or password is incorrect")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator("#signed-in-as")).to_have_text(user.email)
    expect(page.locator("nav a", has_text="Users")).to_have_count(0)  # merchants don't manage users
    _shot(page, "dashboard-merchant")

    page.click("nav a:has-text('Password')")
    page.evaluate("window.__sameDocument = true")  # survives only if htmx swaps instead of navigating
    _submit_password_form(page, "not my password", "short")
    expect(page.locator("#current_password-error")).to_have_text("That is not your current password.")
    expect(page.locator("#new_password-error")).to_contain_text("at least 12 characters")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place; CSRF header was accepted
    _shot(page, "password-errors")

    _submit_password_form(page, PASSWORD, "a far better passphrase")
    expect(page.locator(".flash-success")).to_contain_text("Password changed")

    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.goto(f"{live_server}/admin/")
    expect(page).to_have_url(f"{live_server}/admin/login?next=/admin/")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_everything_works_without_javascript(live_server, page_factory, make_user):
    user = make_user("admin")
    page = page_factory(javascript=False)
    _sign_in(page, live_server, user.email)
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.click("nav a:has-text('Users')")
    expect(page.locator(f"#user-row-{user.id}")).to_contain_text(user.email)
    page.click("nav a:has-text('Password')")
    _submit_password_form(page, "wrong one", "another fine passphrase")
    expect(page.locator("#current_password-error")).to_be_visible()
    _submit_password_form(page, PASSWORD, "another fine passphrase")
    expect(page.locator(".flash-success")).to_contain_text("Password changed")
    page.click("text=Sign out")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_staff_dashboard_shows_demo_data(live_server, page_factory, app):
    from covet.demo import seed_demo

    logins = {role: (email, password) for role, email, password in seed_demo()}
    page = page_factory()
    _sign_in(page, live_server, *logins["staff"])
    expect(page.locator("#recent-orders tbody tr")).to_have_count(8)
    expect(page.locator("#disputes-due tbody tr")).to_have_count(1)
    expect(page.locator("#revenue-chart svg rect")).to_have_count(30)
    expect(page.locator("#failing-work")).to_have_text("0 / 0")
    _shot(page, "dashboard-staff")
