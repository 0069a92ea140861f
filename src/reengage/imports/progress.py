"""How an import shows itself in a terminal: a ``rich`` progress bar (records/s and time
left, on stderr) while it runs, and a summary per record kind when it is done."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from reengage.imports.service import Progress as Step
from reengage.imports.service import Report

PHASES = {"reading": "reading and checking", "deriving": "deriving each patient's state"}


@contextmanager
def bar(name: str) -> Iterator[Step]:
    console = Console(file=sys.stderr)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records  {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as shown:
        tasks: dict[str, TaskID] = {}

        def step(phase: str, done: int, total: int, records: int) -> None:
            if phase not in tasks:
                label = f"{name}: {PHASES.get(phase, phase)}"
                tasks[phase] = shown.add_task(label, total=total or None, records=0, rate=0.0)
            task = tasks[phase]
            elapsed = shown.tasks[task].elapsed or 0.0
            rate = records / elapsed if elapsed > 0 and phase == "reading" else 0.0
            shown.update(task, completed=done, total=total or None, records=records, rate=rate)

        yield step


def summary_lines(report: Report) -> list[str]:
    """The summary, then every problem reported (file, where, kind, field, reason)."""
    if report.dry_run:
        head = "dry run: nothing written"
    elif report.kept:
        head = "imported"
    else:
        head = "refused: nothing written"
    rate = report.records_read / report.seconds if report.seconds else 0.0
    derived = (
        f"; derived state {report.deriving_seconds:.1f} s of it"
        if report.deriving_seconds >= 0.05
        else ""
    )
    lines = [
        f"{head} ({report.records_read:,} records read in {report.seconds:.1f} s, "
        f"{rate:,.0f} records/s{derived})"
    ]
    lines.append("kind\tcreated\tupdated\tunchanged\trefused")
    for name, tally in report.summary.items():
        if tally.created or tally.updated or tally.unchanged or tally.refused:
            lines.append(
                f"{name}\t{tally.created}\t{tally.updated}\t{tally.unchanged}\t{tally.refused}"
            )
    if report.skipped_count:
        lines.append(f"skipped (not kept by reengage, see below): {report.skipped_count}")
    if report.problem_count:
        lines.append(f"problems: {report.problem_count}")
    for found in report.problems:
        where = ", ".join(p for p in (found.source, found.at, found.kind, found.field) if p)
        mark = "refused" if found.refused else "skipped"
        lines.append(f"{mark}: {where}: {found.reason}")
    hidden = report.problem_count + report.skipped_count - len(report.problems)
    if hidden > 0:
        lines.append(f"... and {hidden:,} more")
    return lines
