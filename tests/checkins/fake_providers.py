"""A local HTTP server speaking Twilio's Messages API and SendGrid's Mail Send API as their
documentation shows them, for the check-in tests (we cannot reach the real ones from here).

Twilio: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, HTTP basic auth (the
Account SID and auth token), a form body (``To``, ``From`` or ``MessagingServiceSid``,
``Body``, ``StatusCallback``); 201 with the message resource (``sid``, ``status`` queued...),
or an error resource ``{"code", "message", "more_info", "status"}``.

SendGrid: ``POST /v3/mail/send``, ``Authorization: Bearer <API key>``, a JSON body
(``personalizations``, ``from``, ``subject``, ``content``); 202 with no body and the message's
id in ``X-Message-Id``, or ``{"errors": [{"message", "field", "help"}]}``.

What each recipient gets can be scripted: a list of answers, one per request, then success.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fedcba9876543210fedcba9876543210"
SENDGRID_KEY = "SG.fakekey0123456789.abcdefghijklmnopqrstuvwxyz"
TWILIO_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

# Scripted answers: an HTTP status, or a Twilio error code (400 with that code).
INVALID_NUMBER = 21211
UNSUBSCRIBED = 21610


@dataclass(frozen=True)
class Received:
    channel: str
    to: str
    body: str
    sender: str
    subject: str | None = None
    status_callback: str | None = None
    message_id: str = ""
    unsubscribe_link: bool = False  # SendGrid's subscription tracking asked for


@dataclass
class FakeProviders:
    accepted: list[Received] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (channel, to), every try
    script: dict[str, list[int]] = field(default_factory=dict)
    on_request: Callable[[str, str], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def to(self, address: str) -> list[Received]:
        return [m for m in self.accepted if m.to == address]

    def answer(self, to: str) -> int | None:
        with self.lock:
            queued = self.script.get(to)
            return queued.pop(0) if queued else None


def _handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == TWILIO_PATH:
                self._twilio(raw)
            elif self.path == "/v3/mail/send":
                self._sendgrid(raw)
            else:
                self._reply(404, {"code": 20404, "message": "not found", "status": 404})

        def _twilio(self, raw: bytes) -> None:
            expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                return
            form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
            to = form.get("To", "")
            if "Body" not in form or not to:
                self._reply(
                    400, {"code": 21602, "message": "Message body is required.", "status": 400}
                )
                return
            with fake.lock:
                fake.requests.append(("sms", to))
            if fake.on_request is not None:
                fake.on_request("sms", to)
            scripted = fake.answer(to)
            if scripted in (INVALID_NUMBER, UNSUBSCRIBED):
                message = {
                    INVALID_NUMBER: f"The 'To' number {to} is not a valid phone number.",
                    UNSUBSCRIBED: "Attempt to send to unsubscribed recipient",
                }[scripted]
                self._reply(
                    400,
                    {
                        "code": scripted,
                        "message": message,
                        "more_info": f"https://www.twilio.com/docs/errors/{scripted}",
                        "status": 400,
                    },
                )
                return
            if scripted is not None:
                code = 20429 if scripted == 429 else 20500
                self._reply(
                    scripted,
                    {
                        "code": code,
                        "message": "Too Many Requests"
                        if scripted == 429
                        else "Internal Server Error",
                        "status": scripted,
                    },
                )
                return
            sid = "SM" + secrets.token_hex(16)
            sender = form.get("From") or form.get("MessagingServiceSid", "")
            with fake.lock:
                fake.accepted.append(
                    Received("sms", to, form["Body"], sender, None, form.get("StatusCallback"), sid)
                )
            self._reply(
                201,
                {
                    "account_sid": ACCOUNT_SID,
                    "api_version": "2010-04-01",
                    "body": form["Body"],
                    "date_created": "Tue, 03 Nov 2026 09:10:00 +0000",
                    "direction": "outbound-api",
                    "error_code": None,
                    "error_message": None,
                    "from": form.get("From"),
                    "messaging_service_sid": form.get("MessagingServiceSid"),
                    "num_segments": "1",
                    "price": None,
                    "sid": sid,
                    "status": "queued",
                    "to": to,
                    "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
                },
            )

        def _sendgrid(self, raw: bytes) -> None:
            if self.headers.get("Authorization") != f"Bearer {SENDGRID_KEY}":
                self._reply(
                    401,
                    {
                        "errors": [
                            {
                                "message": "The provided authorization grant is invalid",
                                "field": None,
                                "help": None,
                            }
                        ]
                    },
                )
                return
            body = json.loads(raw)
            to = body["personalizations"][0]["to"][0]["email"]
            with fake.lock:
                fake.requests.append(("email", to))
            if fake.on_request is not None:
                fake.on_request("email", to)
            scripted = fake.answer(to)
            if scripted is not None:
                self._reply(
                    scripted,
                    {"errors": [{"message": "scripted failure", "field": None, "help": None}]},
                )
                return
            message_id = secrets.token_urlsafe(16)
            text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
            tracking = body.get("tracking_settings", {}).get("subscription_tracking", {})
            with fake.lock:
                fake.accepted.append(
                    Received(
                        "email",
                        to,
                        text,
                        body["from"]["email"],
                        body["subject"],
                        None,
                        message_id,
                        bool(tracking.get("enable")),
                    )
                )
            self._reply(202, None, {"X-Message-Id": message_id})

    return Handler


@contextmanager
def fake_providers() -> Iterator[FakeProviders]:
    fake = FakeProviders()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
