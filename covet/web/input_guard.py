"""Refuse control characters in request input before any view sees it: a 422 naming the field, not a 500.

PostgreSQL cannot store NUL in text ("A string literal cannot contain NUL (0x00) characters", raised at the
INSERT or even a SELECT's bind), and no one types the other C0 controls (bell, escape, backspace…) into
a form. Tab, CR and LF stay allowed everywhere: textareas carry them, and the few single-line values where
a line break matters (`next=` redirects) are checked where they are used.

Checked: query args, form fields (names and values), uploaded file names, path segments, and every string in
a JSON body; a JSON body must be an object (every JSON endpoint takes one, and Flask-WTF crashes on a list
or a string). Not checked: the Stripe webhook, whose raw body is signed and verified byte for byte.
"""
from __future__ import annotations

from flask import Flask, jsonify, make_response, request

from covet.web.errors import _error_response
from covet.web.params import CONTROL_CHARACTERS as CONTROL

UNCHECKED_ENDPOINTS = {"webhooks.stripe_webhook"}
MAX_JSON_DEPTH = 20  # deeper than any body we accept; deeper still is refused rather than walked
TOO_DEEP = "nested too deeply"
NOT_AN_OBJECT = "not an object"


def _describe(text: str) -> str:
    char = CONTROL.search(text).group(0)
    return "NUL" if char == "\x00" else f"U+{ord(char):04X}"


def _shown(name) -> str:
    """A field name fit for the message (a forged name may itself hold the control character)."""
    return CONTROL.sub("?", str(name))[:80]


def _json_problem(value, path: str, depth: int = 0) -> tuple[str, str] | None:
    """(field, what) for the first string of a JSON value holding a control character."""
    if depth > MAX_JSON_DEPTH:
        return path or "body", TOO_DEEP
    if isinstance(value, str):
        return (path or "body", _describe(value)) if CONTROL.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{_shown(key)}" if path else _shown(key)
            if CONTROL.search(key):
                return name, _describe(key)
            if (found := _json_problem(item, name, depth + 1)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _json_problem(item, f"{path}[{index}]", depth + 1)) is not None:
                return found
    return None


def _pairs_problem(pairs, prefix: str = "") -> tuple[str, str] | None:
    """(field, what) for the first name or value of (name, value) pairs holding a control character."""
    for key, value in pairs:
        for text in (key, value):
            if isinstance(text, str) and CONTROL.search(text):
                return prefix + _shown(key), _describe(text)
    return None


def find_input_problem() -> tuple[str, str] | None:
    """(field, what) for the first input holding a control character (or a JSON body that is no object)."""
    for source in (request.args.items(multi=True), (request.view_args or {}).items()):
        if (found := _pairs_problem(source)) is not None:
            return found
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # json.loads gives up on "[[[[…" before werkzeug's silent= can help
                return "body", TOO_DEEP
            if body is not None and not isinstance(body, dict):  # every JSON endpoint (and Flask-WTF) takes one
                return "body", NOT_AN_OBJECT
            return _json_problem(body, "")
        if (found := _pairs_problem(request.form.items(multi=True))) is not None:
            return found
        files = ((key, upload.filename) for key, upload in request.files.items(multi=True))
        return _pairs_problem(files, prefix="file name of ")
    return None


def refuse_bad_input():
    """before_request: 422 naming the field that holds a control character, 400 for a JSON body that is not an
    object (JSON answers for JSON requests, the error page otherwise)."""
    if request.endpoint in UNCHECKED_ENDPOINTS:
        return None
    found = find_input_problem()
    if found is None:
        return None
    field, what = found
    if what == TOO_DEEP:  # not a field to fix: the body itself is malformed
        status, message = 400, "The JSON body is nested too deeply."
    elif what == NOT_AN_OBJECT:
        status, message = 400, "Send a JSON object."
    else:
        status, message = 422, f"“{field}” contains a control character ({what}). Remove it and try again."
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return make_response(jsonify(error=message, field=field, status=status), status)
    return _error_response(status, message)


def init_input_guard(app: Flask) -> None:
    app.before_request(refuse_bad_input)
