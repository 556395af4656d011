"""Product images in the editor: presigned uploads, confirmation, status, order, alt text, delete."""
from __future__ import annotations

import posixpath

from flask import Blueprint, abort, jsonify, render_template, request, send_from_directory, url_for

from covet.catalog.models import Product
from covet.extensions import csrf, limiter
from covet.media import queries, services
from covet.media.models import Media
from covet.media.storage import IMMUTABLE, LocalStorage, StorageError, UploadUsedError, get_storage
from covet.web.actor import current_actor
from covet.web.htmx import is_fragment_request, redirect_after_post, render_page, toast
from covet.web.params import parse_id, parse_ids
from covet.web.policy import allow, get_scoped_or_404

bp = Blueprint("media", __name__)
EDITORS = ("admin", "staff", "merchant")
_SERVED_TYPES = {"webp": "image/webp", "avif": "image/avif", "jpg": "image/jpeg", "png": "image/png"}

for helper in (queries.image_url, queries.srcset, queries.upload_abandoned):
    bp.add_app_template_global(helper, f"media_{helper.__name__}")
bp.add_app_template_global(queries.product_images, "product_media")


@bp.app_template_global("media_return_to")
def media_return_to() -> str:
    """Where a form without JavaScript comes back to: the page showing the panel (not a fragment URL)."""
    return "" if is_fragment_request() else request.path


def _back(product_id: int) -> str:
    target = request.form.get("next", "")
    if target.startswith("/admin/") and "//" not in target and "\\" not in target:
        return target
    return url_for("media.product_images", product_id=product_id)


@bp.get("/admin/products/<int:product_id>/media")
@allow(*EDITORS)
def product_images(product_id: int):
    """A product's images: the panel for htmx, a page otherwise."""
    product = get_scoped_or_404(Product, product_id)
    return render_page("media/panel.html", "media_panel", product=product)


@bp.post("/admin/products/<int:product_id>/media/uploads")
@allow(*EDITORS)
def upload_request(product_id: int):
    """Presign the browser's PUT of one image: JSON {filename, content_type, size} in, the upload out."""
    product = get_scoped_or_404(Product, product_id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="Send a JSON object: {filename, content_type, size}."), 400
    filename, content_type, size = data.get("filename") or "", data.get("content_type"), data.get("size")
    if not isinstance(filename, str) or not isinstance(content_type, str | None):
        return jsonify(error="filename and content_type must be text."), 400
    try:
        media, upload = services.request_upload(product, filename, content_type,
                                                size if isinstance(size, int) else None, current_actor())
    except services.MediaError as exc:
        return jsonify(error=str(exc)), 422
    return jsonify(media_id=media.id, upload=upload,
                   confirm_url=url_for("media.upload_confirm", media_id=media.id)), 201


@bp.post("/admin/media/<int:media_id>/confirm")
@allow(*EDITORS)
def upload_confirm(media_id: int):
    """The browser's PUT is done: check the file and queue its renditions (JSON out)."""
    media = get_scoped_or_404(Media, media_id)
    try:
        services.confirm_upload(media, current_actor())
    except services.MediaError as exc:
        return jsonify(error=str(exc)), 422
    except StorageError as exc:
        return jsonify(error=str(exc)), 503
    return jsonify(media_id=media.id, status=media.status, error=media.error,
                   item_url=url_for("media.media_item", media_id=media.id))


@bp.post("/admin/products/<int:product_id>/media")
@allow(*EDITORS)
def media_upload(product_id: int):
    """Upload images through the server: the drop zone's form without JavaScript."""
    product = get_scoped_or_404(Product, product_id)
    files = [f for f in request.files.getlist("file") if f and f.filename]
    errors = [] if files else ["Choose one or more images to upload."]
    for file in files:
        file.stream.seek(0, 2)
        size = file.stream.tell()
        file.stream.seek(0)
        try:
            services.upload_through_server(product, file.filename, file.mimetype, file.stream, size, current_actor())
        except (services.MediaError, StorageError) as exc:
            errors.append(str(exc))
    if errors:
        return render_page("media/panel.html", "media_panel", http_status=422, product=product, upload_errors=errors)
    toast(f"{len(files)} image{'s' if len(files) > 1 else ''} uploaded; processing now.")
    return redirect_after_post(_back(product.id))


def _move(value: str | None) -> str | None:
    """ "<media id>:up|down" with an id we can look up; anything else becomes a move the service refuses."""
    if not value:
        return None
    media_id, _, direction = value.partition(":")
    return f"{parse_id(media_id)}:{direction}" if parse_id(media_id) else "?"


@bp.post("/admin/products/<int:product_id>/media/order")
@allow(*EDITORS)
def media_order(product_id: int):
    """Save the images' order (drag and drop), or move one image up or down (buttons)."""
    product = get_scoped_or_404(Product, product_id)
    ids = parse_ids(request.form.getlist("order"))
    try:
        services.reorder(product, ids, current_actor(), move=_move(request.form.get("move")))
    except services.MediaError as exc:
        return render_template("media/_list.html", product=product, list_error=str(exc)), 422
    toast("Image order saved.")
    if is_fragment_request():
        return render_template("media/_list.html", product=product)
    return redirect_after_post(_back(product.id))


@bp.get("/admin/media/<int:media_id>")
@allow(*EDITORS)
def media_item(media_id: int):
    """One image: its list entry for htmx (polled while it processes), its own page otherwise."""
    media = get_scoped_or_404(Media, media_id)
    if is_fragment_request():
        return render_template("media/_item.html", item=media, product=media.product)
    return render_page("media/item.html", item=media, product=media.product)


@bp.post("/admin/media/<int:media_id>/alt")
@allow(*EDITORS)
def media_alt(media_id: int):
    """Save an image's alt text."""
    media = get_scoped_or_404(Media, media_id)
    try:
        services.set_alt_text(media, request.form.get("alt_text", ""), current_actor())
    except services.MediaError as exc:
        context = {"item": media, "product": media.product, "alt_error": str(exc),
                   "alt_value": request.form.get("alt_text", "")}
        if is_fragment_request():
            return render_template("media/_item.html", **context), 422
        return render_page("media/item.html", http_status=422, **context)
    toast("Alt text saved.")
    if is_fragment_request():
        return render_template("media/_item.html", item=media, product=media.product)
    return redirect_after_post(_back(media.product_id))


@bp.post("/admin/media/<int:media_id>/delete")
@allow(*EDITORS)
def media_delete(media_id: int):
    """Delete an image and, once that has committed, its stored files."""
    media = get_scoped_or_404(Media, media_id)
    product = media.product
    services.delete_media(media, current_actor())
    toast("Image deleted.")
    if is_fragment_request():
        return render_template("media/_list.html", product=product)
    return redirect_after_post(_back(product.id))


@bp.put("/media-uploads/<token>")
@limiter.limit("300 per minute")  # a merchant may drop a hundred photos at once
@csrf.exempt  # the signed, expiring token is the credential, as a presigned S3 URL is
def local_upload(token: str):
    """Receive a browser's PUT of an original on local disk (embedded mode)."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    grant = storage.read_upload_token(token)
    if grant is None:
        return _plain("This upload link is invalid or has expired.", 403)
    if not services.accepts_upload(grant["key"]):  # single-use: its image was confirmed, or has failed
        return _plain("This upload link was already used: upload the image again.", 409)
    if request.mimetype != grant["type"]:
        return _plain(f"Content-Type must be {grant['type']}.", 400)
    if request.content_length != grant["size"]:
        return _plain(f"Content-Length must be {grant['size']}.", 400)
    try:
        storage.write_stream(grant["key"], request.stream, grant["size"], exclusive=True)
    except UploadUsedError as exc:
        return _plain(str(exc), 409)
    except StorageError as exc:
        return _plain(str(exc), 400)
    return _plain("", 200)


@bp.get("/media/<path:key>")
@limiter.limit("3000 per minute")  # a page shows many images; a CDN in front caches them
def media_file(key: str):
    """Serve a rendition from local disk, cached for a year; originals (with their metadata) stay private."""
    storage = get_storage()
    name = posixpath.basename(key)
    # Only product renditions are public: originals keep their metadata, and exports/imports are private.
    extension = name.rpartition(".")[2]
    if (not isinstance(storage, LocalStorage) or not key.startswith(("products/", "demo/"))
            or name.startswith(("original.", ".")) or extension not in _SERVED_TYPES):
        abort(404)
    response = send_from_directory(storage.root, key, mimetype=_SERVED_TYPES.get(name.rpartition(".")[2]),
                                   max_age=31536000)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def _plain(text: str, status: int):
    return text, status, {"Content-Type": "text/plain; charset=utf-8"}
