"""What every analytics route shares: its prefix, the ``as_of`` parameter, and the check
that refuses a query parameter the contract does not define."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Query, Request

from reengage.errors import Problem, RecordValidationError

PREFIX = "/api/v1/reengagement/{org_id}"

# The document's form of as_of (the parsing gives the reasons): a date or a datetime with
# offset in the years 1901-8998, as a record's timestamps (records.schemas); empty is now.
AS_OF_PATTERN = (
    "^((190[1-9]|19[1-9][0-9]|[2-7][0-9]{3}|8[0-8][0-9]{2}|89[0-8][0-9]|899[0-8])-"
    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    "(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]))?)?$"
)
AsOf = Annotated[
    str | None,
    Query(
        description="ISO datetime with offset, or a date (the end of that day in the org's "
        "timezone); default now",
        examples=["2026-11-24", "2026-11-24T09:00:00+11:00"],
        json_schema_extra={"pattern": AS_OF_PATTERN},
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
