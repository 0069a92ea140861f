"""``reengage serve``: the listener its worker processes share, and the command itself."""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from reengage import serving
from reengage.db import migrate
from tests.live_server import free_port


def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY on a connection asyncio accepts from ``listener``, as uvicorn's workers
    serve it (``loop.create_server(sock=...)``)."""

    async def main() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Report(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Report, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()
            server.close()

    # A thread of its own: the session's Playwright (sync API) may hold this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def test_the_shared_listener_gives_its_connections_tcp_nodelay() -> None:
    """Without it each keep-alive answer after the first waited ~40 ms for the client's
    delayed acknowledgement (Nagle's algorithm)."""
    listener = serving.listening_socket("127.0.0.1", 0)
    assert listener.proto == socket.IPPROTO_TCP
    assert listener.get_inheritable()
    assert _nodelay_of_accepted(listener) == 1


def test_a_taken_address_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            serving.listening_socket("127.0.0.1", taken.getsockname()[1])


def _serve(tmp_path: Path, port: int, workers: int) -> subprocess.Popen[str]:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    env = {**os.environ, "REENGAGE_DATABASE_URL": url, "REENGAGE_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "reengage.cli", "serve", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_with_two_workers_answers_on_one_keep_alive_connection(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, port, 2)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except (ConnectionError, http.client.HTTPException, OSError):
                pass
            finally:
                conn.close()
            assert time.monotonic() < deadline, "serve --workers 2 did not start"
            time.sleep(0.25)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        answers = []
        for _ in range(5):
            conn.request("GET", "/readyz")
            response = conn.getresponse()
            answers.append((response.status, response.getheader("Connection")))
            response.read()
        conn.close()
        assert answers == [(200, None)] * 5
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/api/v1/orgs/org_x/patients")
        assert conn.getresponse().status == 401
        conn.close()
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output


def test_serve_on_a_taken_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(tmp_path, port, 2)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in output
