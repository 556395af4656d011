"""Local Stripe peers for tests: localstripe for the core API, StripeFake for what localstripe lacks.

`localstripe_server()` runs localstripe's aiohttp app on 127.0.0.1 (no pickle dump). `StripeFake` is a
small HTTP server shaped like Stripe's documented v1 API for the calls Covet makes that localstripe has
no model for: Checkout Sessions (create, list, retrieve, expire), Express accounts (create, list,
retrieve) and Account Links, transfers and their reversals (create, list, retrieve), disputes (retrieve,
update evidence, close), files (upload, retrieve), PaymentIntents (retrieve) and refunds (one function
per route in tests/stripe_fake_routes.py; anything else answers 404 "Unrecognized request URL").
Form bodies are parsed back into nested dicts, multipart bodies (file uploads) too, a file part as
{"filename", "content"}; `Idempotency-Key` on a POST replays the first saved answer (header
`Idempotent-Replayed: true`) or answers 400 `idempotency_error` if the method, path or params differ;
validation errors are not saved for a key; keys are scoped by `Stripe-Account`. Every request is
recorded in `fake.requests`. `set_stripe_config` points both the "api" and the "files" base at one
server (Stripe uploads to files.stripe.com).

Disputes (seed with `fake.add_dispute`, decide with `fake.close_dispute(id, "won"|"lost")`): evidence
is staged (`submit=false`) or submitted (`submit` defaults to true when evidence is sent, as on
Stripe): needs_response → under_review, warning_needs_response → warning_under_review, submission_count
+1. File fields take the id of an uploaded dispute_evidence file (else resource_missing); a text field
over 20,000 characters or all text over 150,000 is refused; unknown fields are parameter_unknown.
Evidence for a submitted or closed dispute, or one with due_by 0 (the network allows no response), is
refused; metadata may change at any status. Late evidence is taken and sets past_due, which is what
Stripe documents that field to mean. Close (accept) → lost, or warning_closed for an inquiry.
Transfer reversals: amount defaults to what is left; more than is left is refused; a connected account
whose balance is tracked (`fake.account_balance[acct] = n`, absent = unlimited; transfers in add to
it) refuses a larger reversal with `balance_insufficient`. Files: purpose must be one of Stripe's;
type is sniffed from the bytes (pdf/jpg/png/gif); for the purposes Stripe's upload guide lists
(dispute_evidence: PDF/JPEG/PNG up to 5 MB) type and size are checked; bytes are in `fake.file_contents`.

What it does NOT do: webhooks or events (build them with `fake.event` and sign them yourself),
payments (a session is only paid by `fake.complete_session`, an account only enabled by
`fake.complete_onboarding`), price ids, subscriptions, search, pagination cursors, `expand`,
Stripe-Account object scoping, platform balances (a transfer is not checked against its source charge
or the platform's balance), refunds refused on a disputed charge, dispute funds withdrawn or
reinstated (balance_transactions stay empty), `enhanced_evidence` and `appeal`, shorter limits Stripe
may have on short evidence fields, the combined size of evidence files, PDF page counts, file expiry
and download URLs, file links, `refund_application_fee`, key expiry after 24 h, the 409 for concurrent
requests with one key (requests run one at a time), API version differences, and the `expires_at` range
of a Checkout Session. Refusal messages follow Stripe's style; where Stripe documents no wording
(disputes already submitted or closed, reversals past what is left, file type and size) it is ours, so
assert on status, code and param rather than on those messages. Account Link URLs point at the fake
(`GET /setup/e/<account>/<token>` redirects to return_url once, then to refresh_url).
"""
from __future__ import annotations

import asyncio
import copy
import io
import json
import re
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import requests
from werkzeug.datastructures import Headers
from werkzeug.formparser import parse_form_data

from tests.stripe_fake_routes import CLOSED, ROUTES, StripeError, empty_evidence, new_id, parse_form


@contextmanager
def localstripe_server():
    """Run localstripe's aiohttp app on a free loopback port in a thread; yield its base URL."""
    from aiohttp import web
    from localstripe import resources

    resources.Store.dump_to_disk = lambda self: None  # never write /tmp/localstripe.pickle
    with warnings.catch_warnings():  # its sync handlers: aiohttp's "bare functions are deprecated", once per route
        warnings.simplefilter("ignore", DeprecationWarning)
        from localstripe.server import app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    loop, runner, ready = asyncio.new_event_loop(), web.AppRunner(app), threading.Event()

    def serve():
        # Set up inside this thread: the main thread may already run a loop (Playwright's sync API does).
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.SockSite(runner, sock).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="localstripe", daemon=True)
    thread.start()
    if not ready.wait(30):  # listening before the URL is handed out
        raise RuntimeError("localstripe did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        asyncio.run_coroutine_threadsafe(_shut_down(runner), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def _shut_down(runner) -> None:
    """Cancel localstripe's pending webhook deliveries (each waits 1 s first), then stop serving."""
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await runner.cleanup()


def reset_localstripe(base_url: str) -> None:
    """Forget every object localstripe holds, and its webhook endpoints (kept apart from its data)."""
    from localstripe.webhooks import _webhooks

    requests.delete(f"{base_url}/_config/data", timeout=5).raise_for_status()
    _webhooks.clear()  # the server runs in this process (localstripe_server)


def set_stripe_config(app, base_url: str) -> None:
    """Point an app's Stripe gateway at a local peer (test keys; the cached client is dropped)."""
    app.config.update(STRIPE_SECRET_KEY="sk_test_covet_peer", STRIPE_WEBHOOK_SECRET="whsec_test_covet_peer",
                      STRIPE_API_BASE=base_url, STRIPE_FILES_BASE=base_url)
    app.extensions.pop("covet_stripe", None)


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict
    headers: Headers


class StripeFake:
    """A minimal, honest stand-in for the Stripe endpoints localstripe lacks (see the module docstring)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-fake", daemon=True)
        self.reset()

    def start(self) -> StripeFake:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.objects: dict[str, dict] = {}
            self.requests: list[RecordedRequest] = []
            self._saved: dict[tuple, tuple] = {}
            self.links: dict[str, dict] = {}
            self.intent_data: dict[str, dict] = {}
            self.account_balance: dict[str, int] = {}  # connected account → available balance; absent = unlimited
            self.file_contents: dict[str, bytes] = {}  # file id → the uploaded bytes
        self.hold_answers_to(None)

    def set_stripe_config(self, app) -> None:
        set_stripe_config(app, self.url)

    # --- what tests read
    def objects_of(self, kind: str) -> list[dict]:
        return [copy.deepcopy(o) for o in self.objects.values() if o["object"] == kind]

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    @staticmethod
    def event(kind: str, obj: dict, account: str | None = None) -> dict:
        """A Stripe-shaped event around `obj` (sign its JSON with stripe.WebhookSignature yourself)."""
        return {"id": new_id("evt"), "object": "event", "type": kind, "created": int(time.time()),
                "livemode": False, "account": account, "pending_webhooks": 1,
                "data": {"object": copy.deepcopy(obj)}}

    # --- what only a test (or a person on Stripe's pages) can do
    def complete_onboarding(self, account_id: str, **fields) -> dict:
        """The seller finished onboarding: charges, payouts and transfers are enabled."""
        with self._lock:
            account = self.objects[account_id]
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True,
                           capabilities={name: "active" for name in account["capabilities"]},
                           requirements={"currently_due": [], "eventually_due": [], "past_due": [],
                                         "disabled_reason": None}, **fields)
            return copy.deepcopy(account)

    def add_payment_intent(self, amount: int, currency: str = "usd", status: str = "succeeded", **fields) -> dict:
        """Preload a PaymentIntent (and its charge, latest_charge, when it succeeded)."""
        with self._lock:
            intent = {"id": new_id("pi"), "object": "payment_intent", "amount": amount, "currency": currency,
                      "status": status, "amount_received": amount if status == "succeeded" else 0,
                      "latest_charge": None, "metadata": {}, "transfer_group": None, "customer": None,
                      "created": int(time.time()), "livemode": False, **fields}
            if status == "succeeded":
                charge = {"id": new_id("ch"), "object": "charge", "amount": amount, "amount_refunded": 0,
                          "currency": currency, "payment_intent": intent["id"], "refunded": False,
                          "status": "succeeded", "transfer_group": intent["transfer_group"]}
                self.objects[charge["id"]], intent["latest_charge"] = charge, charge["id"]
            self.objects[intent["id"]] = intent
            return copy.deepcopy(intent)

    def add_dispute(self, charge: str | dict | None = None, amount: int | None = None, currency: str | None = None,
                    reason: str = "fraudulent", status: str = "needs_response", due_by: int | None = None,
                    payment_intent: str | None = None, metadata: dict | None = None, **fields) -> dict:
        """Preload a dispute on a charge id (amount and currency default to a preloaded charge's) or on a
        preloaded PaymentIntent dict (its latest charge). due_by defaults to a week from now."""
        with self._lock:
            if isinstance(charge, dict):  # a PaymentIntent from add_payment_intent
                payment_intent, charge = payment_intent or charge["id"], charge["latest_charge"]
            known = self.objects.get(charge) if charge else None
            if known is not None:
                known["disputed"] = True
                amount = known["amount"] if amount is None else amount
                currency, payment_intent = currency or known["currency"], payment_intent or known["payment_intent"]
            if not charge or amount is None or not currency:
                raise ValueError("a dispute needs a charge, an amount and a currency")
            now = int(time.time())
            dispute = {"id": new_id("dp"), "object": "dispute", "amount": amount, "currency": currency.lower(),
                       "charge": charge, "payment_intent": payment_intent, "reason": reason, "status": status,
                       "created": now, "evidence": empty_evidence(),
                       "evidence_details": {"due_by": now + 7 * 86400 if due_by is None else due_by,
                                            "has_evidence": False, "past_due": False, "submission_count": 0},
                       "is_charge_refundable": False, "livemode": False, "metadata": dict(metadata or {}),
                       "network_reason_code": None, "balance_transactions": [], **fields}
            self.objects[dispute["id"]] = dispute
            return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, status: str = "won") -> dict:
        """The bank decided: the dispute closes as won or lost (an inquiry as warning_closed)."""
        if status not in ("won", "lost", "warning_closed"):
            raise ValueError(f"a bank closes a dispute as won, lost or warning_closed, not {status}")
        with self._lock:
            dispute = self.objects[dispute_id]
            if dispute["status"] in CLOSED:
                raise ValueError(f"{dispute_id} is already {dispute['status']}")
            dispute["status"] = status
            return copy.deepcopy(dispute)

    def complete_session(self, session_id: str, email: str = "shopper@example.com", name: str = "Sam Shopper") -> dict:
        """The shopper paid: the session is complete and paid, with a succeeded PaymentIntent."""
        with self._lock:
            session = self.objects[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}: only an open session can be paid")
            data = self.intent_data[session_id]
            intent = self.add_payment_intent(session["amount_total"], session["currency"],
                                             metadata=data.get("metadata", {}),
                                             transfer_group=data.get("transfer_group"))
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"], url=None,
                           customer_details={"email": email, "name": name})
            return copy.deepcopy(session)

    # --- the HTTP side
    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> tuple[int, dict | None, dict]:
        path, _, query = target.partition("?")
        if method == "POST" and headers.get("Content-Type", "").startswith("multipart/form-data"):
            params = parse_multipart(headers["Content-Type"], body)
        else:
            params = parse_form(parse_qsl(body.decode() if method == "POST" else query, keep_blank_values=True))
        with self._lock:
            self.requests.append(RecordedRequest(method, path, params, headers))
            if path.startswith("/v1/") and not headers.get("Authorization", "").startswith("Bearer sk_"):
                return 401, StripeError(401, "You did not provide an API key.").body, {}
            key = headers.get("Idempotency-Key") if method == "POST" else None
            scope, fingerprint = (headers.get("Stripe-Account"), key), (method, path, params)
            if key and scope in self._saved:
                first, status, saved_body = self._saved[scope]
                if first != fingerprint:
                    return 400, StripeError(400, f"Keys for idempotent requests can only be used with the same "
                                                 f"parameters they were first used with. Try using a key other "
                                                 f"than '{key}' if you meant to execute a different request.",
                                            kind="idempotency_error").body, {}
                return status, json.loads(saved_body), {"Idempotent-Replayed": "true"}
            status, answer, extra, keep = self._dispatch(method, path, params)
            if key and keep:
                self._saved[scope] = (fingerprint, status, json.dumps(answer))
        if self.hold_after and re.fullmatch(self.hold_after, path):  # done, but the answer waits (outside the lock)
            self.held.set()
            self.release.wait(60)
        return status, answer, extra

    def hold_answers_to(self, pattern: str | None) -> None:
        """Do the work of requests to paths matching `pattern`, then hold the answer until `release` is set:
        the caller can be killed after Stripe acted and before it heard back."""
        if getattr(self, "release", None) is not None:
            self.release.set()  # let a request still held from before go
        self.hold_after, self.held, self.release = pattern, threading.Event(), threading.Event()

    def _dispatch(self, method: str, path: str, params: dict) -> tuple[int, dict | None, dict, bool]:
        for verb, pattern, action in ROUTES:
            if verb == method and (match := re.fullmatch(pattern, path)):
                try:
                    result = action(self, params, *match.groups())
                except StripeError as exc:
                    return exc.status, exc.body, {}, exc.saved
                if isinstance(result, tuple):  # a redirect from a hosted page
                    return result[0], None, {"Location": result[1]}, False
                return 200, copy.deepcopy(result), {}, True
        return 404, StripeError(404, f"Unrecognized request URL ({method}: {path}).").body, {}, False

    def get(self, kind: str, object_id: str, param: str = "id") -> dict:
        found = self.objects.get(object_id)
        if found is None or found["object"] != kind:
            raise StripeError(404 if param == "id" else 400, f"No such {kind}: '{object_id}'", "resource_missing",
                              param)
        return found


def parse_multipart(content_type: str, body: bytes) -> dict:
    """A multipart/form-data body as params: fields as strings, a file part as {"filename", "content"}."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}
    _, form, files = parse_form_data(environ)
    params = parse_form(list(form.items(multi=True)))
    for name, part in files.items(multi=True):
        params[name] = {"filename": part.filename, "content": part.read()}
    return params


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.0, one request per connection: nothing lingers when the server shuts down."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, answer, extra = self.server.fake.handle(self.command, self.path, Headers(list(self.headers.items())),
                                                        body)
        payload = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Request-Id": new_id("req", 14), **extra}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass
