"""Limits on requests: a cap on bodies, enforced before anything parses them (413, nothing
read past it), and on the requests a process works on at once (the rest wait their turn)."""

from __future__ import annotations

import re

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = re.compile(r"/api/v1/orgs/[^/]+/imports")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Whole files come to POST .../imports: their own, larger cap.
        self.upload_max_bytes = upload_max_bytes or max_bytes

    def _cap(self, scope: Scope) -> int:
        path = str(scope.get("path", ""))
        if scope.get("method") == "POST" and UPLOAD_PATH.fullmatch(path):
            return self.upload_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self._cap(scope):
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read up to the cap, then replay what was read.
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self._cap(scope):
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {
                "detail": [
                    {
                        "field": "body",
                        "reason": f"request body is larger than {self._cap(scope):,} bytes; "
                        + (
                            "split it into smaller batches"
                            if self._cap(scope) == self.max_bytes
                            else "split the file, or import it with 'reengage import'"
                        ),
                        "loc": ["body"],
                        "type": "too_large",
                    }
                ]
            },
            status_code=413,
        )
        await response(scope, receive, send)


# How long a request waits for its turn before it is answered 503 (the load is more than
# the process can serve: the client sends it again, or a proxy sends it elsewhere).
ADMISSION_WAIT_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5


class AdmissionMiddleware:
    """At most ``limit`` requests at work in the process; the others wait here, in order.

    The request path is Python, one core per process whatever the threads: 40 requests at
    work at once (Starlette's thread pool) are each 40 times slower, hold 40 database
    connections' worth of transactions open while they wait for the interpreter, and past
    the pool's 15 connections wait for one and fail after 30 s (bench/load.py: 64 clients,
    none answered in 15 s). Waiting here costs nothing: no thread, no connection, no lock.
    ``/healthz`` does not wait: a busy process is alive.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        exempt: tuple[str, ...] = ("/healthz",),
        wait_seconds: float = ADMISSION_WAIT_SECONDS,
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.wait_seconds = wait_seconds
        self._slots: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # made in the event loop that serves it
            self._slots = anyio.Semaphore(self.limit)
        admitted = False
        with anyio.move_on_after(self.wait_seconds):  # the wait only: never the request
            await self._slots.acquire()
            admitted = True
        if admitted:
            try:
                await self.app(scope, receive, send)
            finally:
                self._slots.release()
            return
        response = JSONResponse(
            {"detail": f"the server is busy; retry in {RETRY_AFTER_SECONDS} seconds"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        await response(scope, receive, send)
