"""What every analytics route shares: its prefix, the ``as_of`` parameter, and the check
that refuses a query parameter the contract does not define."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Query, Request

from reengage.errors import Problem, RecordValidationError

PREFIX = "/api/v1/reengagement/{org_id}"

AsOf = Annotated[
    str | None,
    Query(
        description="ISO datetime with offset, or a date (the end of that day in the org's "
        "timezone); default now",
        examples=["2026-11-24", "2026-11-24T09:00:00+11:00"],
    ),
]


def only_params(*allowed: str) -> Callable[[Request], None]:
    """Refuse query parameters the contract does not define (naming the allowed ones) and
    repeated ones: a misspelt or doubled filter silently ignored would show the wrong
    patients."""

    def check(request: Request) -> None:
        names = [name for name, _ in request.query_params.multi_items()]
        problems = [
            Problem(
                ("query", name),
                f"is not a parameter of this endpoint; allowed: {', '.join(allowed)}",
                "unknown_parameter",
            )
            for name in sorted(set(names) - set(allowed))
        ]
        problems += [
            Problem(("query", name), "is given more than once; give it once", "repeated")
            for name in sorted({n for n in names if names.count(n) > 1} & set(allowed))
        ]
        if problems:
            raise RecordValidationError(problems)

    return check
