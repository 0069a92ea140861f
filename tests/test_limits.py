"""The request body cap: refused with 413 before parsing, declared length or not; and the
requests a process works on at once: the others wait their turn, or get 503 after a while."""

from __future__ import annotations

import json
import threading
from collections.abc import Awaitable, Callable, Iterator

import anyio
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reengage.app import create_app
from reengage.config import Settings
from reengage.limits import AdmissionMiddleware
from tests.factories import OrgFixture, patient


def _small_app_client(engine: Engine) -> TestClient:
    return TestClient(create_app(Settings(max_body_bytes=2000), engine=engine))


def test_declared_length_over_cap_is_refused(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    big = patient(health_conditions=["x" * 100] * 30)
    r = client.put(org.url("/patients/p1"), json=big, headers=org.headers("staff"))
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"
    assert "2,000 bytes" in r.json()["detail"][0]["reason"]
    r = client.get(org.url("/patients/p1"), headers=org.headers("staff"))
    assert r.status_code == 404


def test_chunked_body_over_cap_is_refused(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    payload = json.dumps(patient(health_conditions=["y" * 100] * 30)).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 500):
            yield payload[start : start + 500]

    r = client.put(
        org.url("/patients/p1"),
        content=chunks(),
        headers={**org.headers("staff"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_chunked_body_under_cap_is_accepted(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    payload = json.dumps(patient()).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 100):
            yield payload[start : start + 100]

    r = client.put(
        org.url("/patients/p1"),
        content=chunks(),
        headers={**org.headers("staff"), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Avery Testpatient"


def test_unauthenticated_oversized_body_gets_401(engine: Engine, org: OrgFixture) -> None:
    client = _small_app_client(engine)
    r = client.put(org.url("/patients/p1"), content=b"x" * 5000)
    assert r.status_code == 401


# --- requests at once (AdmissionMiddleware) ---------------------------------------------


class _SlowApp:
    """An ASGI app that answers 200 after ``seconds``, counting the requests inside it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.inside = 0
        self.most_inside = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        await anyio.sleep(self.seconds)
        self.inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: ASGIApp, path: str) -> tuple[int, dict[str, str]]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers


def _run(main: Callable[[], Awaitable[None]]) -> None:
    """``anyio.run`` in a thread of its own: the browser tests leave an event loop running
    in the main thread."""
    failures: list[BaseException] = []

    def target() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def test_no_more_requests_at_work_than_the_limit_and_all_are_answered() -> None:
    inner = _SlowApp(0.05)
    app = AdmissionMiddleware(inner, limit=3)
    answers: list[int] = []

    async def main() -> None:
        async def one() -> None:
            answers.append((await _call(app, "/api/v1/x"))[0])

        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(one)

    _run(main)
    assert answers == [200] * 12
    assert inner.most_inside == 3


def test_a_request_that_waits_too_long_gets_503_and_healthz_never_waits() -> None:
    inner = _SlowApp(0.5)
    app = AdmissionMiddleware(inner, limit=1, wait_seconds=0.1)
    found: dict[str, tuple[int, dict[str, str]]] = {}

    async def main() -> None:
        async def at(name: str, path: str, delay: float) -> None:
            await anyio.sleep(delay)
            found[name] = await _call(app, path)

        async with anyio.create_task_group() as tg:
            tg.start_soon(at, "first", "/api/v1/x", 0)
            tg.start_soon(at, "second", "/api/v1/x", 0.02)
            tg.start_soon(at, "health", "/healthz", 0.02)

    _run(main)
    assert found["first"][0] == 200
    assert found["second"][0] == 503
    assert found["second"][1]["retry-after"] == "5"
    assert found["health"][0] == 200
    assert inner.most_inside == 2  # the first request and /healthz
