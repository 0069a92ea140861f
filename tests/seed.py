"""The frontend team's request (``shared/seed``): its four JSON examples, and the paths and
kinds of value their code reads.

The seed lives beside the repository (``../shared/seed``, as the project's machines and CI
lay it out); ``REENGAGE_SEED_DIR`` points elsewhere. Its examples carry ``//`` comments,
which are stripped before parsing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

SEED_DIR = Path(
    os.environ.get(
        "REENGAGE_SEED_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "seed"
    )
)
# The examples in the order the request gives them, by the endpoint each one answers.
ENDPOINTS = ("risk-metrics", "performance", "patients/prioritized", "trends")


def seed_text() -> str:
    files = sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []
    if not files:
        pytest.fail(
            f"the frontend team's request is not at {SEED_DIR}: lay out shared/ beside the "
            "repository, or set REENGAGE_SEED_DIR"
        )
    return files[0].read_text(encoding="utf-8")


def strip_comments(block: str) -> str:
    """Drop ``// ...`` to the end of each line (no string in the examples holds ``//``)."""
    return "\n".join(re.sub(r"\s*//.*$", "", line) for line in block.splitlines())


def seed_examples() -> dict[str, Any]:
    """``{endpoint: example}`` for the four JSON examples, in the request's order."""
    blocks = re.findall(r"```json\n(.*?)```", seed_text(), re.S)
    assert len(blocks) == len(ENDPOINTS), f"expected {len(ENDPOINTS)} JSON examples"
    return {
        endpoint: json.loads(strip_comments(block))
        for endpoint, block in zip(ENDPOINTS, blocks, strict=True)
    }


def kind(value: Any) -> str:
    """The kinds the contract names: number, string, boolean, list, object, null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def kind_paths(example: Any, prefix: str = "") -> dict[str, str]:
    """Every path of an example with its kind: ``risk_summary.critical_risk: number``,
    ``patients[].reengagement_history[].date: string``: a list's elements as ``[]``, from its
    first element (the element itself is not a path of its own)."""
    out: dict[str, str] = {}
    if prefix and not prefix.endswith("[]"):
        out[prefix] = kind(example)
    if isinstance(example, dict):
        for key, value in example.items():
            out |= kind_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(example, list) and example:
        out |= kind_paths(example[0], f"{prefix}[]")
    return out


def mismatches(example: Any, answer: Any) -> list[str]:
    """Where ``answer`` lacks a path of ``example`` or holds another kind of value there."""
    return _mismatches(example, [answer], "")


def _mismatches(example: Any, found: list[Any], path: str) -> list[str]:
    """``found``: every value of the answer at ``path`` (one per element of the lists above).

    A ``null`` in the example says nothing of the kind, so any value stands there. Elsewhere
    each value is of the example's kind or ``null`` (where nothing applies, as the contract
    allows), and at least one is of the example's kind: a path that is only ever ``null``,
    or a list that is only ever empty, was never shown to hold what the frontend reads.
    """
    want = kind(example)
    if want == "null":
        return []
    where = path or "(root)"
    kinds = {kind(value) for value in found}
    problems = [f"{where}: {want} expected, {k} found" for k in sorted(kinds - {want, "null"})]
    if want not in kinds:
        return problems or [f"{where}: never {want} (always null)"]
    if isinstance(example, dict):
        objects = [value for value in found if isinstance(value, dict)]
        for key, value in example.items():
            inner = f"{path}.{key}" if path else key
            if any(key not in o for o in objects):
                problems.append(f"{inner}: missing")
            else:
                problems += _mismatches(value, [o[key] for o in objects], inner)
    elif isinstance(example, list) and example:
        items = [item for value in found if isinstance(value, list) for item in value]
        if not items:
            problems.append(f"{where}: always empty, so its elements were never checked")
        else:
            problems += _mismatches(example[0], items, f"{path}[]")
    return problems
