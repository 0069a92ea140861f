"""On the one-machine default (SQLite), ``reengage serve`` runs the scheduler itself: a write's
alert appears within seconds with no worker, and SIGTERM stops the server cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reengage.db import migrate
from tests.factories import appointment, patient
from tests.live_server import free_port


def _call(port: int, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=headers
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_serve_on_sqlite_raises_a_writes_alert_by_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    env = {
        **os.environ,
        "REENGAGE_DATABASE_URL": url,
        "REENGAGE_LOG_LEVEL": "INFO",
        "REENGAGE_SCHEDULER_TICK_SECONDS": "0.5",
    }
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "reengage.cli",
            "orgs",
            "create",
            "org_serve",
            "--name",
            "Serve Clinic",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reengage.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        now = datetime.now(UTC)
        body = {
            "patients": [patient("p1")],
            "appointments": [
                appointment(
                    "a1", "p1", starts_at=(now - timedelta(days=9)).isoformat(), booked_at=None
                ),
                appointment(
                    "a2",
                    "p1",
                    starts_at=(now - timedelta(days=2)).isoformat(),
                    booked_at=None,
                    status="no_show",
                ),
            ],
        }
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                status, _ = _call(port, "POST", "/api/v1/orgs/org_serve/batch", key, body)
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.25)
        deadline = time.monotonic() + 30
        while True:
            status, found = _call(port, "GET", "/api/v1/orgs/org_serve/alerts", key)
            assert status == 200
            if found["alerts"]:
                break
            assert time.monotonic() < deadline, "no alert was raised"
            time.sleep(0.25)
        assert [(a["rule"], a["patient_id"]) for a in found["alerts"]] == [
            ("missed_appointment", "p1")
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully (the app's shutdown stops the scheduler, after the job
    # in hand), then re-raises the signal: its exit status is the signal's.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "scheduler stopped" in output and "Traceback" not in output
