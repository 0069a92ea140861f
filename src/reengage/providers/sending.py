"""Messages out: an SMS through Twilio's Messages API, an email through SendGrid's Mail Send
API, with the providers' own client libraries, and each answer sorted as the providers
document it: accepted (with the provider's message id), worth trying again (HTTP 429, 5xx,
no answer) or refused for good (an invalid or unsubscribed number, a rejected address).

Where the APIs are is configuration (``REENGAGE_TWILIO_API_URL``, ``REENGAGE_SENDGRID_API_
URL``): a clinic behind an egress proxy sets them, and the tests point them at a local server
speaking the providers' formats.
"""

from __future__ import annotations

import json
import logging
import urllib.error
from dataclasses import dataclass
from typing import Any, Literal

import requests
from python_http_client import exceptions as sendgrid_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger("reengage.providers")
# twilio-python logs each request's URL and headers at INFO, python_http_client (SendGrid's)
# the whole message and its API key at DEBUG: neither reaches our logs, whatever the level
# (``logs.QUIET`` keeps them at WARNING; this logger is Twilio's, given to its client).
_twilio_log = logging.getLogger("twilio.http_client")

TWILIO_API_URL = "https://api.twilio.com"
SENDGRID_API_URL = "https://api.sendgrid.com"

# Twilio's error codes for a number that will never take this message: not a valid number
# (21211), not a mobile (21614), one Twilio cannot route to (21612), a region not enabled
# on the account (21408), a number that replied STOP to the sender (21610).
TWILIO_NEVER = {21211, 21408, 21610, 21612, 21614}
TWILIO_UNSUBSCRIBED = 21610


@dataclass(frozen=True)
class TwilioSender:
    account_sid: str
    auth_token: str
    # A number in E.164 (``From``) or a Messaging Service (``MG...``: ``MessagingServiceSid``).
    sender: str


@dataclass(frozen=True)
class SendGridSender:
    api_key: str
    from_email: str
    from_name: str = ""


@dataclass(frozen=True)
class Answer:
    """What the provider said. ``retry``: try again later; otherwise, with no message id,
    refused for good. ``error``: a code and a short reason, never an address or text."""

    message_id: str | None
    retry: bool = False
    error: str | None = None
    unsubscribed: bool = False
    status_code: int | None = None

    @property
    def accepted(self) -> bool:
        return self.message_id is not None


Outcome = Literal["accepted", "retry", "refused"]


def _refusal(status: int, code: Any, reason: str) -> Answer:
    retry = status == 429 or status >= 500
    return Answer(
        None,
        retry=retry,
        error=f"HTTP {status}" + (f", code {code}" if code else "") + f": {reason[:120]}",
        status_code=status,
    )


def send_sms(
    sender: TwilioSender,
    to: str,
    body: str,
    status_callback: str | None,
    api_url: str = TWILIO_API_URL,
    timeout: float = 10.0,
) -> Answer:
    """``POST /2010-04-01/Accounts/{sid}/Messages.json``; Twilio answers 201 with the
    message's ``sid``, or an error body with its ``code``."""
    client = Client(
        sender.account_sid,
        sender.auth_token,
        http_client=TwilioHttpClient(timeout=timeout, logger=_twilio_log),
    )
    client.api.base_url = api_url.rstrip("/")
    fields: dict[str, Any] = {"to": to, "body": body}
    if sender.sender.startswith("MG"):
        fields["messaging_service_sid"] = sender.sender
    else:
        fields["from_"] = sender.sender
    if status_callback:
        fields["status_callback"] = status_callback
    try:
        created = client.messages.create(**fields)
    except TwilioRestException as exc:
        code = int(exc.code) if exc.code else None
        if code in TWILIO_NEVER:
            return Answer(
                None,
                error=f"Twilio {code}: {_twilio_reason(code)}",
                unsubscribed=code == TWILIO_UNSUBSCRIBED,
                status_code=exc.status,
            )
        return _refusal(exc.status, code, "Twilio refused the message")
    except (requests.RequestException, TwilioException, OSError) as exc:
        return Answer(None, retry=True, error=f"no answer from Twilio ({type(exc).__name__})")
    sid = str(created.sid or "")
    if not sid:
        return Answer(None, retry=True, error="Twilio's answer had no message sid")
    return Answer(sid, status_code=201)


def _twilio_reason(code: int | None) -> str:
    return {
        21211: "not a valid phone number",
        21408: "the number's region is not enabled on the account",
        21610: "the number has unsubscribed (replied STOP)",
        21612: "Twilio cannot route to this number",
        21614: "not a mobile number",
    }.get(code or 0, "refused")


def send_email(
    sender: SendGridSender,
    to: str,
    subject: str,
    text: str,
    custom_args: dict[str, str],
    api_url: str = SENDGRID_API_URL,
    timeout: float = 10.0,
) -> Answer:
    """``POST /v3/mail/send``; SendGrid answers 202 with the message's id in
    ``X-Message-Id`` (its events' ``sg_message_id`` begins with it)."""
    client = SendGridAPIClient(sender.api_key, host=api_url.rstrip("/"))
    mail = Mail(
        from_email=(sender.from_email, sender.from_name) if sender.from_name else sender.from_email,
        to_emails=to,
        subject=subject,
        plain_text_content=text,
    )
    body: dict[str, Any] = mail.get()
    body["custom_args"] = custom_args
    # SendGrid's own unsubscribe link; an unsubscribe comes back through the Event Webhook,
    # which records the opt-out.
    body["tracking_settings"] = {"subscription_tracking": {"enable": True}}
    try:
        response = client.client.mail.send.post(request_body=body, timeout=timeout)
    except sendgrid_errors.HTTPError as exc:
        status = int(exc.status_code)
        return _refusal(status, None, _sendgrid_reason(exc.body))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Answer(None, retry=True, error=f"no answer from SendGrid ({type(exc).__name__})")
    message_id = _header(response.headers, "X-Message-Id")
    if not message_id:
        return Answer(None, retry=True, error="SendGrid's answer had no X-Message-Id")
    return Answer(message_id[:200], status_code=int(response.status_code))


def _header(headers: Any, name: str) -> str:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name.lower():
            return str(value)
    return ""


def _sendgrid_reason(body: bytes | str | None) -> str:
    """SendGrid's first error message (``{"errors": [{"message": ...}]}``), which names the
    field (``to``, ``from``), not the address."""
    try:
        found = json.loads(body or b"{}")
        first = found["errors"][0]
        return str(first.get("field") or "") + " " + str(first.get("message") or "")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "SendGrid refused the message"
