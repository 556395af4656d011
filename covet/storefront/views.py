"""Public storefront routes (so far: leaving a price-drop alert from its email)."""
from flask import Blueprint, abort, request

from covet.catalog.models import Product
from covet.extensions import csrf, db, limiter
from covet.storefront import services
from covet.web.htmx import render_page

bp = Blueprint("storefront", __name__)


@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
@csrf.exempt  # mail clients' one-click unsubscribe (RFC 8058) posts without our form; the token authorises
def alert_unsubscribe(token: str):
    """Confirm, then stop, a price-drop alert."""
    alert = services.alert_by_token(token)
    if alert is None:
        abort(404)
    if request.method == "POST":
        alert = services.unsubscribe_alert(token)
    product = db.session.get(Product, alert.product_id)
    return render_page("storefront/unsubscribe.html", alert=alert, product=product, token=token)
