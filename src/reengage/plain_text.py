"""Text fields any request body may carry: trimmed, bounded, and storable on both databases.

Shared by the records' schemas and the key labels of ``orgs``, which may not import each
other (a layer contract): the rule that PostgreSQL text holds no NUL is written once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def storable(value: str) -> str:
    """Refuse NUL, which PostgreSQL text cannot hold: a 422 here rather than a 500 at write time.

    (Unpaired surrogates, the other unstorable text, are already refused by pydantic.)
    """
    if "\x00" in value:
        raise ValueError("must not contain the NUL control character (\\u0000)")
    return value


ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(storable)
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(storable)
]
