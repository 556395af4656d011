"""Real protocol peers on loopback: an aiosmtpd SMTP sink and an HTTP server answering like Resend."""
import asyncio
import json
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


class SinkHandler:
    """Collects messages; can refuse recipients (code per address) or stall at RCPT until released."""

    def __init__(self):
        self.messages = []
        self.refuse: dict[str, str] = {}
        self.stall_rcpt = False
        self.rcpt_seen = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        if self.stall_rcpt:
            self.rcpt_seen.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted"


@pytest.fixture
def smtp_sink():
    handler = SinkHandler()
    port = free_port()  # aiosmtpd checks its own port after starting, so it needs a real one
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"
    yield handler
    handler.release.set()
    controller.stop()


class ResendStub(BaseHTTPRequestHandler):
    """Answers POST /emails like Resend's API; replies are scripted per test."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
        status, payload = self.server.replies.pop(0) if self.server.replies else (200, {"id": "re_test_1"})
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def resend_server():
    import resend

    server = ThreadingHTTPServer(("127.0.0.1", 0), ResendStub)
    server.requests, server.replies = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    previous = resend.api_url
    resend.api_url = f"http://127.0.0.1:{server.server_port}"
    yield server
    resend.api_url = previous
    server.shutdown()
