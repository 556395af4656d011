"""The variant table: rows edited in place, conflicts, bulk edits, the stock ledger."""
from __future__ import annotations

from flask import abort, request, url_for

from covet.catalog import queries, variants
from covet.catalog.stock import EDITOR_REASONS
from covet.catalog.views import _editor, bp
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.extensions import db
from covet.money import to_major
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.params import parse_ids
from covet.web.policy import EVERYONE, allow

ROW = "catalog/variant_row.html"


def _variant(product_id: int, variant_id: int):
    try:
        return variants.variant_for(current_actor(), variant_id, product_id)
    except NotFoundError:
        abort(404)


def form_values(variant) -> dict:
    """A variant as the strings its edit form shows."""
    weight = "" if variant.weight_grams is None else str(variant.weight_grams)
    return {"sku": variant.sku, "price": to_major(variant.price_amount, variant.currency),
            "compare_at": to_major(variant.compare_at_amount, variant.currency), "stock": str(variant.stock_on_hand),
            "barcode": variant.barcode or "", "weight": weight, "active": "on" if variant.active else ""}


def _row(variant, block: str, http_status: int = 200, **extra):
    context = {"variant": variant, "title": variant.title, "product_id": variant.product_id,
               "reasons": EDITOR_REASONS, "errors": {}, "values": form_values(variant),
               "original": form_values(variant), "version": variant.version, "mode": block}
    context.update(extra)
    return render_page(ROW, block, http_status=http_status, **context)


@bp.get("/<int:product_id>/variants/<int:variant_id>")
@allow(*EVERYONE)
def variant_row(product_id: int, variant_id: int):
    """One row as displayed (Cancel, or "take theirs")."""
    return _row(_variant(product_id, variant_id), "display_row")


@bp.get("/<int:product_id>/variants/<int:variant_id>/edit")
@allow(*EVERYONE)
def variant_edit(product_id: int, variant_id: int):
    """The row as inputs (htmx), or a page with the form (no JavaScript)."""
    return _row(_variant(product_id, variant_id), "edit_row")


@bp.post("/<int:product_id>/variants/<int:variant_id>")
@allow(*EVERYONE)
def variant_save(product_id: int, variant_id: int):
    """Save one row: the saved row, 422 with errors by the fields, or 409 with what changed."""
    form = request.form.to_dict()
    original = {k[len("orig_"):]: v for k, v in form.items() if k.startswith("orig_")}
    try:
        saved = variants.save_variant(variant_id, product_id, request.form.get("version", type=int) or 0, form,
                                      current_actor())
    except NotFoundError:
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return _row(_variant(product_id, variant_id), "edit_row", 422, errors=exc.errors, values=form,
                    original=original or None, version=request.form.get("version", type=int))
    except ConflictError:
        db.session.rollback()
        current = _variant(product_id, variant_id)
        theirs = form_values(current)
        changed = [name for name in theirs if original.get(name, theirs[name]) != theirs[name]]
        return _row(current, "conflict_row", 409, mine=form, theirs=theirs, original=original, changed=changed)
    toast(f"{saved.sku} saved.")
    if is_fragment_request():
        return _row(saved, "display_row")
    return redirect_after_post(url_for("catalog.product_edit", product_id=product_id) + f"#variant-row-{saved.id}")


@bp.post("/<int:product_id>/variants/bulk")
@allow(*EVERYONE)
def variant_bulk(product_id: int):
    """Apply one change to the selected rows, all or nothing."""
    ids = parse_ids(request.form.getlist("variant_ids"))
    try:
        count = variants.bulk_edit(product_id, ids, request.form.get("operation", ""), request.form.get("value", ""),
                                   current_actor(), reason=request.form.get("reason") or "correction")
    except NotFoundError:
        abort(404)
    except ValidationError as exc:
        db.session.rollback()
        return _editor(product_id, 422, "variant_table", bulk_errors=exc.errors, selected=set(ids),
                       bulk_form=request.form)
    toast(f"{count} variant{'s' if count != 1 else ''} updated.")
    if is_fragment_request():
        return _editor(product_id, 200, "variant_table")
    return redirect_after_post(url_for("catalog.product_edit", product_id=product_id) + "#variants")


@bp.get("/<int:product_id>/variants/<int:variant_id>/ledger")
@allow(*EVERYONE)
def variant_ledger(product_id: int, variant_id: int):
    """Every stock change of a variant, newest first."""
    variant = _variant(product_id, variant_id)
    return render_page("catalog/ledger.html", "ledger", variant=variant, entries=queries.ledger(variant.id))
