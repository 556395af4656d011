"""Products: list, create, the editor page, product fields, options and variant generation."""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user
from sqlalchemy import select

from covet.catalog import matrix, products, queries
from covet.catalog.models import PRODUCT_STATUSES
from covet.catalog.stock import EDITOR_REASONS
from covet.catalog.variants import BULK_OPERATIONS
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.money import parse_money
from covet.stores.models import Store
from covet.web.actor import current_actor
from covet.web.htmx import redirect_after_post, render_page, toast
from covet.web.params import parse_id
from covet.web.policy import EVERYONE, allow

bp = Blueprint("catalog", __name__, url_prefix="/admin/products")


def _filters() -> queries.ProductFilters:
    args = request.args
    return queries.ProductFilters(
        q=args.get("q", "").strip()[:100], status=args.get("status", "") if args.get("status") in PRODUCT_STATUSES
        else "", store_id=parse_id(args.get("store")),
        stock=args.get("stock", "") if args.get("stock") in ("low", "out") else "",
        sort=args.get("sort", "updated") if args.get("sort") in queries.SORTS else "updated",
        after=args.get("after", "")[:200])


def _stores() -> list[Store]:
    if current_user.role == "merchant":
        return [current_user.store]
    return list(db.session.scalars(select(Store).order_by(Store.name)))


@bp.get("/")
@allow(*EVERYONE)
def product_list():
    """Search, filter and page through products (merchants: their own store)."""
    filters = _filters()
    scope = current_user.store_id if current_user.role == "merchant" else None
    page = queries.product_page(filters, scope)
    return render_page("catalog/list.html", "product_list", page=page, filters=filters, stores=_stores(),
                       statuses=PRODUCT_STATUSES, sorts=queries.SORTS)


@bp.route("/new", methods=["GET", "POST"])
@allow(*EVERYONE)
def product_new():
    """Create a product, then go to its editor."""
    errors, data = {}, request.form
    if request.method == "POST":
        store_id = current_user.store_id if current_user.role == "merchant" else parse_id(request.form.get("store_id"))
        try:
            product = products.create_product(request.form.to_dict(), store_id or 0, current_actor())
        except ValidationError as exc:
            db.session.rollback()
            errors = exc.errors
        except NotFoundError:
            abort(404)
        else:
            toast("Product created.")
            return redirect_after_post(url_for("catalog.product_edit", product_id=product.id))
    return render_page("catalog/new.html", "product_form", errors=errors, data=data, stores=_stores(),
                       statuses=PRODUCT_STATUSES, http_status=422 if errors else 200)


def _editor(product_id: int, http_status: int = 200, block: str | None = None, **extra):
    try:
        product = products.product_for(current_actor(), product_id)
    except NotFoundError:
        abort(404)
    context = {"product": product, "rows": queries.editor_rows(product), "statuses": PRODUCT_STATUSES,
               "bulk_operations": BULK_OPERATIONS, "reasons": EDITOR_REASONS, "errors": {}, "data": None}
    context.update(extra)
    return render_page("catalog/editor.html", block, http_status=http_status, **context)


@bp.get("/<int:product_id>")
@allow(*EVERYONE)
def product_edit(product_id: int):
    """The product editor: fields, options, variant table, images."""
    return _editor(product_id)


@bp.post("/<int:product_id>")
@allow(*EVERYONE)
def product_update(product_id: int):
    """Save the product's fields (version-checked)."""
    try:
        products.update_product(product_id, request.form.get("version", type=int) or 0, request.form.to_dict(),
                                current_actor())
    except NotFoundError:
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return _editor(product_id, 422, "product_form", errors=exc.errors, data=request.form)
    except ConflictError as exc:
        db.session.rollback()
        return _editor(product_id, 409, "product_form", conflict=exc.current, data=request.form)
    toast("Product saved.")
    return redirect_after_post(url_for("catalog.product_edit", product_id=product_id))


def _raw_options() -> list[tuple[str, str]]:
    names, values = request.form.getlist("option_name"), request.form.getlist("option_values")
    return list(zip(names, values, strict=False))


@bp.post("/<int:product_id>/options")
@allow(*EVERYONE)
def product_options(product_id: int):
    """Save options and their ordered values; deleting variants needs the box ticked."""
    try:
        matrix.set_options(product_id, _raw_options(), current_actor(),
                           confirm_delete=request.form.get("confirm_delete") == "yes")
    except NotFoundError:
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return _editor(product_id, 422, "options_form", errors=exc.errors, option_rows=_raw_options())
    except matrix.ConfirmationRequiredError as exc:
        db.session.rollback()
        return _editor(product_id, 409, "options_form", doomed=exc.variants, option_rows=_raw_options())
    toast("Options saved. Generate variants to add the new combinations.")
    return redirect_after_post(url_for("catalog.product_edit", product_id=product_id) + "#options")


@bp.post("/<int:product_id>/generate")
@allow(*EVERYONE)
def product_generate(product_id: int):
    """Add a variant for each missing combination."""
    price = None
    text = request.form.get("base_price", "").strip()
    try:
        product = products.product_for(current_actor(), product_id)
        if text:
            price = parse_money(text, product.store.currency)
        added = matrix.generate_variants(product_id, price, current_actor())
    except NotFoundError:
        abort(404)
    except (ValidationError, ValueError) as exc:
        db.session.rollback()
        errors = exc.errors if isinstance(exc, ValidationError) else {"base_price": str(exc)}
        return _editor(product_id, 422, "options_form", errors=errors)
    toast(f"{added} variant{'s' if added != 1 else ''} added." if added else "Every combination already exists.")
    return redirect_after_post(url_for("catalog.product_edit", product_id=product_id) + "#variants")
