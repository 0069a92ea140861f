"""The README's first command: from nothing to a served demo clinic, on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from reengage import quickstart
from reengage.auth import service as auth_service
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.records import repository
from tests.live_server import free_port


def _get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_prepare_loads_once_and_keeps_its_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    key_file = tmp_path / "key"
    key = quickstart.prepare(url, key_file)
    assert key_file.read_text().strip() == key
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        principal = auth_service.authenticate(session, key)
        assert principal is not None
        assert (principal.org_id, principal.role) == (quickstart.DEMO_ORG, "admin")
        assert repository.count_patients(session, quickstart.DEMO_ORG) == quickstart.DEMO_PATIENTS
    # A second run reuses both the data and the key.
    assert quickstart.prepare(url, key_file) == key
    with make_sessionmaker(engine)() as session:
        assert repository.count_patients(session, quickstart.DEMO_ORG) == quickstart.DEMO_PATIENTS
        assert len(auth_service.list_keys(session, quickstart.DEMO_ORG)) == 1
    engine.dispose()


def test_quickstart_command_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "REENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    # As the README's examples load it (DEMO_AS_OF, which scripts/run passes on).
    ends = "2026-11-24T17:00:00+11:00"
    command = [
        *(sys.executable, "-m", "reengage.cli", "quickstart", "--port", str(port)),
        *("--demo-as-of", ends),
    ]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "quickstart did not start serving"
            time.sleep(0.25)
        key = (tmp_path / ".reengage" / "demo-admin-key").read_text().strip()
        status, body = _get(f"{base}/api/v1/orgs/org_demo/patients?limit=2", key)
        assert status == 200
        assert body["total"] == quickstart.DEMO_PATIENTS
        assert len(body["items"]) == 2  # type: ignore[arg-type]
        assert _get(f"{base}/api/v1/orgs/org_demo/patients")[0] == 401
        # The README's risk-metrics example, from the clinic the command loaded.
        as_of = ends.replace("+", "%2B")
        status, metrics = _get(
            f"{base}/api/v1/reengagement/org_demo/risk-metrics?as_of={as_of}", key
        )
        assert status == 200
        assert metrics["risk_summary"] == {
            "critical_risk": 86,
            "high_risk": 27,
            "medium_risk": 40,
            "low_risk": 25,
            "engaged": 242,
        }
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=20)
    assert key in output
    assert f"reengage is starting at {base}/" in output
