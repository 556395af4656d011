"""Users list for admins."""
from flask import Blueprint
from sqlalchemy import select

from covet.accounts.models import User
from covet.extensions import db
from covet.web.htmx import render_page
from covet.web.policy import allow

bp = Blueprint("users", __name__, url_prefix="/admin/users")


@bp.get("/")
@allow("admin")
def user_list():
    """Every back-office user with role, store and last sign-in."""
    users = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    return render_page("accounts/users.html", users=users)
