"""Sign in, sign out, change password."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from covet.accounts import services
from covet.accounts.forms import LoginForm, PasswordChangeForm
from covet.extensions import limiter
from covet.web.actor import current_actor
from covet.web.htmx import redirect_after_post, render_page, toast
from covet.web.policy import EVERYONE, allow

bp = Blueprint("accounts", __name__, url_prefix="/admin")
GENERIC_FAILURE = "Email or password is incorrect, or the account is temporarily locked. Try again later."


def _safe_next(target: str | None) -> str:
    """Only same-site paths; anything else goes to the dashboard.

    Control characters are refused outright: urlsplit silently drops tab, CR and LF (a slash, a line break,
    then "/evil.com" would pass as a path that browsers read as "//evil.com"), and werkzeug refuses a line
    break in Location with a 500. A backslash is refused too: browsers read it as a slash."""
    if target and len(target) <= 2000 and target.isprintable() and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.home")


def _account_key() -> str:
    return "login-account:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], methods=["POST"], key_func=_account_key)
def login():
    """Show the sign-in form; sign in with email and password."""
    form = LoginForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(form.next.data))
    error = None
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data, request.remote_addr, g.get("request_id"))
        if result.user is not None:
            session.clear()  # a fresh session: nothing from before sign-in survives
            if result.user.two_factor_enabled:  # not signed in yet: the code comes next
                from covet.accounts.two_factor_views import start_second_step

                return start_second_step(result.user, _safe_next(form.next.data))
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(form.next.data), code=303)
        error = GENERIC_FAILURE
    elif request.method == "POST":
        error = GENERIC_FAILURE
    status = 422 if request.method == "POST" else 200
    return render_page("accounts/login.html", form=form, error=error, http_status=status)


@bp.post("/logout")
@allow(*EVERYONE)
def logout():
    """Sign out everywhere: the session token rotates, so copied cookies stop working too."""
    services.sign_out_everywhere(current_user._get_current_object(), current_actor())
    logout_user()
    session.clear()
    return redirect_after_post(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@allow(*EVERYONE)
def password_change():
    """Change my password; other sessions are signed out."""
    form = PasswordChangeForm()
    errors = {}
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data,
                                     form.confirm_password.data, current_actor())
        except services.ValidationError as exc:
            errors = exc.errors
        else:
            login_user(user)  # keep this session, with the new token
            toast("Password changed. Other sessions were signed out.")
            return redirect_after_post(url_for("accounts.password_change"))
    elif request.method == "POST":
        errors = {name: msgs[0] for name, msgs in form.errors.items()}
    status = 422 if errors else 200
    return render_page("accounts/password.html", "password_form", form=form, errors=errors, http_status=status)


from covet.accounts import two_factor_views  # noqa: E402, F401 - its routes go on this blueprint
