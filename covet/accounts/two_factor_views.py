"""Two-step sign-in: the code page after the password, and turning the second factor on or off."""
from __future__ import annotations

import time

from flask import current_app, g, redirect, request, session, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from covet.accounts import two_factor
from covet.accounts.models import User
from covet.accounts.views import bp
from covet.errors import ValidationError
from covet.extensions import limiter
from covet.web.actor import current_actor
from covet.web.htmx import redirect_after_post, render_page, toast
from covet.web.policy import allow

PENDING_SECONDS = 5 * 60  # the password step is forgotten after this
MAX_TRIES = 5  # wrong codes in one half-done sign-in before the password is asked again


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


class DisableForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Code", validators=[DataRequired(), Length(max=32)])


def start_second_step(user: User, next_url: str):
    """The password was right and the user has a second factor: remember that much, ask for the code."""
    session["two_factor"] = {"uid": user.id, "token": two_factor.pending_token(user), "at": int(time.time()),
                             "next": next_url, "tries": 0}
    return redirect(url_for("accounts.login_code"), code=303)


def _pending() -> dict | None:
    pending = session.get("two_factor")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        session.pop("two_factor", None)
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"])
def login_code():
    """Second step of signing in: the 6 digits from the authenticator app, or a recovery code."""
    pending = _pending()
    if pending is None:
        return redirect(url_for("accounts.login"), code=303)
    form, error = CodeForm(), None
    if form.validate_on_submit():
        user = two_factor.second_step(pending["uid"], pending["token"], form.code.data, request.remote_addr,
                                      g.get("request_id"))
        if user is not None:
            session.clear()  # a fresh session, as after a password-only sign-in
            login_user(user)
            session.permanent = True
            return redirect(pending["next"], code=303)
        pending["tries"] += 1
        session["two_factor"] = pending
        if pending["tries"] >= MAX_TRIES:
            session.pop("two_factor", None)
            return redirect(url_for("accounts.login"), code=303)
        error = two_factor.WRONG_CODE
    elif request.method == "POST":
        error = two_factor.WRONG_CODE
    return render_page("accounts/login_code.html", form=form, error=error,
                       http_status=422 if request.method == "POST" else 200)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@allow(*two_factor.ROLES)
def two_factor_settings():
    """Turn two-step sign-in on (scan, then confirm a code; recovery codes shown once) or off."""
    user = current_user._get_current_object()
    errors, codes = {}, None
    if request.method == "POST":
        try:
            if request.form.get("action") == "disable":
                codes = _disable(user)
            else:
                codes = _enable(user)
        except ValidationError as exc:
            errors = exc.errors
        else:
            if codes is None:
                toast("Two-step sign-in is off.")
                return redirect_after_post(url_for("accounts.two_factor_settings"))
    if not user.two_factor_enabled and "totp_enrol" not in session:
        session["totp_enrol"] = two_factor.new_secret()
    secret = None if user.two_factor_enabled else session["totp_enrol"]
    return render_page("accounts/two_factor.html", user=user, secret=secret, codes=codes, errors=errors,
                       uri=two_factor.provisioning_uri(secret, user.email) if secret else None,
                       form=CodeForm(formdata=None), disable_form=DisableForm(formdata=None),
                       http_status=422 if errors else 200)


def _enable(user: User) -> list[str]:
    form = CodeForm()
    if not form.validate_on_submit() or "totp_enrol" not in session:
        raise ValidationError({"code": two_factor.WRONG_CODE})
    codes = two_factor.enable(user, session["totp_enrol"], form.code.data, current_actor())
    session.pop("totp_enrol", None)
    return codes


def _disable(user: User) -> None:
    form = DisableForm()
    if not form.validate_on_submit():
        raise ValidationError({name: messages[0] for name, messages in form.errors.items()})
    two_factor.disable(user, form.current_password.data, form.code.data, current_actor())
    return None
