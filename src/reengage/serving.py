"""``reengage serve``: the app under uvicorn, in one process or in several.

With several, the listening socket is ours, not uvicorn's: uvicorn 0.54 creates it without
naming TCP as its protocol, the connections it accepts inherit that, and asyncio then leaves
Nagle's algorithm on for them (it sets ``TCP_NODELAY`` only on sockets that say
``IPPROTO_TCP``). Every answer on a keep-alive connection after its first then waited for
the client's delayed acknowledgement: 44 ms for ``/healthz``, which one process answers in
under 1 (uvicorn issue 3149). One process is unaffected: asyncio builds its listener from
``getaddrinfo``, which names the protocol.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "reengage.app:serving_app"


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listener the worker processes share; OSError if the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, workers: int) -> None:
    # Proxy headers are the app's to trust (``REENGAGE_TRUSTED_PROXIES``), not uvicorn's,
    # which would believe any local process.
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
    }
    if workers == 1:
        from reengage.app import serving_app

        uvicorn.run(serving_app(), **options)
        return
    sock = listening_socket(host, port)
    # Processes, not threads: the request path is Python, one core each. Each counts its
    # metrics in files here, which /metrics sums; set before any worker starts (spawned,
    # they read it when they import prometheus-client).
    metrics_dir = tempfile.mkdtemp(prefix="reengage-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        config = uvicorn.Config(APP, factory=True, workers=workers, **options)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
