"""Prometheus metrics: what an operator watches (requests by route and status, how long they
take, what the database refused, how much derived-state work writes cause).

Labels are route templates, methods, statuses and kinds: never an org, a key or a record
id, so the series stay few and nothing here identifies a clinic or a patient. Served at
``/metrics`` (``reengage.health``) to whoever presents the operator's token
(``REENGAGE_METRICS_TOKEN``), which no org's key is: one process serves every org, and its
totals are not any one org's.

With ``reengage serve --workers N`` each worker counts in files under
``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve``) and ``/metrics`` sums them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

REQUESTS = Counter(
    "reengage_requests",
    "Requests answered, by route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "reengage_request_seconds",
    "Time from the request's arrival to its answer, by route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DATABASE_ERRORS = Counter(
    "reengage_database_errors",
    "Requests the database could not serve (503) or refused as a lost race (409), by kind",
    ["kind"],
)
DERIVED_PATIENTS = Counter(
    "reengage_derived_patients",
    "Patients whose derived rows were computed again: by a write (refresh) or a rebuild",
    ["work"],
)
DERIVED_SECONDS = Histogram(
    "reengage_derived_seconds",
    "Time spent computing and writing derived rows, per refresh or rebuild",
    ["work"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0),
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def observe_derived(work: str, patients: int, seconds: float) -> None:
    DERIVED_PATIENTS.labels(work).inc(patients)
    DERIVED_SECONDS.labels(work).observe(seconds)


def exposition() -> bytes:
    """What Prometheus scrapes: this process's series, or all workers' (``serve --workers``)."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
