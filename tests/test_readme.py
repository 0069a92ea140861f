"""The README is part of the product: its commands run, and it documents every knob."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer.main
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from reengage import quickstart
from reengage.cli import app as cli_app
from reengage.config import Settings
from reengage.demo import load_demo
from reengage.domain.settings import OrgSettings
from tests.factories import OrgFixture, make_org
from tests.live_server import live_server

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _command_paths(command: Any, prefix: str = "reengage") -> list[str]:
    if hasattr(command, "commands"):
        paths: list[str] = []
        for name, sub in command.commands.items():
            paths += _command_paths(sub, f"{prefix} {name}")
        return paths
    return [prefix]


def test_every_cli_command_is_documented() -> None:
    paths = _command_paths(typer.main.get_command(cli_app))
    assert "reengage keys revoke" in paths and "reengage db upgrade" in paths
    missing = [path for path in paths if f"`{path}" not in _section("Command line")]
    assert missing == []


def test_every_environment_setting_is_documented() -> None:
    table = _section("Configuration")
    missing = [
        f"REENGAGE_{n.upper()}"
        for n in Settings.model_fields
        if f"REENGAGE_{n.upper()}" not in table
    ]
    assert missing == []


def test_every_org_setting_is_documented() -> None:
    section = _section("Settings")
    names: list[str] = []
    for name, info in OrgSettings.model_fields.items():
        names.append(name)
        nested = info.annotation
        if isinstance(nested, type) and hasattr(nested, "model_fields"):
            names += list(nested.model_fields)
    missing = [name for name in names if f"`{name}`" not in section]
    assert missing == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_write_walkthrough_runs_as_written(app: FastAPI, org: OrgFixture) -> None:
    """Every curl in 'Writing records' and 'Settings' succeeds against a live server."""
    blocks = re.findall(
        r"```sh\n(.*?)```", _section("Writing records") + _section("Settings"), re.S
    )
    script = "\n".join(blocks)
    assert script.count("curl ") >= 8
    with live_server(app) as base:
        script = re.sub(r"^BASE=.*$", f"BASE={base}/api/v1/orgs/{org.id}", script, flags=re.M)
        script = re.sub(
            r"^AUTH=.*$", f"AUTH='Authorization: Bearer {org.keys['admin']}'", script, flags=re.M
        )
        script = script.replace("curl -sS", "curl -sS --fail-with-body")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"name":"Jordan Sample"' in done.stdout
    assert '"patients":{"created":1,"updated":0,"unchanged":0}' in done.stdout
    assert '"timezone":"Australia/Sydney"' in done.stdout


def _json_blocks(section: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def test_the_analytics_examples_are_the_demo_clinics_real_answers(
    client: TestClient, engine: Engine
) -> None:
    """The README's example responses come from the demo clinic it names, unedited: the one
    ``./scripts/run`` loads (``quickstart``'s size, seed and timezone) with the README's
    ``DEMO_AS_OF``, asked at the README's ``as_of``."""
    as_of = "2026-11-24T17:00:00+11:00"
    section = _section("Risk analytics")
    assert f"DEMO_AS_OF={as_of} ./scripts/run" in section
    assert section.count(f"as_of={as_of.replace('+', '%2B')}") >= 2  # the curl lines
    org = make_org(engine, timezone=quickstart.DEMO_TIMEZONE)
    load_demo(
        engine,
        org.id,
        quickstart.DEMO_PATIENTS,
        quickstart.DEMO_SEED,
        datetime.fromisoformat(as_of),
    )
    metrics_example, list_example = _json_blocks(_section("Risk analytics"))
    base = f"/api/v1/reengagement/{org.id}"
    params = {"as_of": as_of}
    metrics = client.get(f"{base}/risk-metrics", params=params, headers=org.headers()).json()
    listed = client.get(
        f"{base}/patients/prioritized",
        params={**params, "risk_level": "high", "limit": 1},
        headers=org.headers(),
    ).json()
    for example in (metrics_example, list_example):
        assert example["organization_id"] == "org_demo"
        example["organization_id"] = org.id
    assert metrics == metrics_example
    assert listed == list_example

    perf_example, trends_example = _json_blocks(_section("Outreach performance and trends"))
    perf = client.get(f"{base}/performance", params=params, headers=org.headers()).json()
    trends = client.get(
        f"{base}/trends", params={**params, "period": "7d"}, headers=org.headers()
    ).json()
    for example in (perf_example, trends_example):
        example["organization_id"] = org.id
    assert perf == perf_example
    assert trends == trends_example

    overview_example, kpis_example = _json_blocks(_section("Staff dashboard"))
    for example in (overview_example, kpis_example):
        example["organization_id"] = org.id
    overview = client.get(f"{base}/overview", params=params, headers=org.headers()).json()
    assert overview == overview_example
    kpis = client.get(f"{base}/kpis", params=params, headers=org.headers()).json()
    assert kpis == kpis_example


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_error_example_is_the_answer_to_its_batch(app: FastAPI, org: OrgFixture) -> None:
    """The batch in 'Errors', sent as written, is refused with the README's answer, whole."""
    section = _section("Errors")
    (script,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    (example,) = _json_blocks(section)
    with live_server(app) as base:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "BASE": f"{base}/api/v1/orgs/{org.id}",
                "AUTH": f"Authorization: Bearer {org.keys['ingest']}",
            },
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == example


def test_every_alert_rule_and_job_is_documented() -> None:
    """The rules' table is the domain's own words (``domain.alerts.RULES``), and each job of
    the scheduler has its row."""
    from reengage.domain.alerts import RULES
    from reengage.jobs.catalog import JOBS

    section = _section("Alerts")
    missing = [
        r.name for r in RULES if f"| `{r.name}` | {r.kind} | {r.holds_when} |" not in section
    ]
    missing += [job.name for job in JOBS if f"| `{job.name}` |" not in section]
    assert missing == []
