"""Text fields any request body may carry: trimmed, bounded, and storable on both databases.

Shared by the records' schemas and the key labels of ``orgs``, which may not import each
other (a layer contract): the rule that PostgreSQL text holds no NUL is written once.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints, WithJsonSchema


def storable(value: str) -> str:
    """Refuse NUL, which PostgreSQL text cannot hold: a 422 here rather than a 500 at write time.

    (Unpaired surrogates, the other unstorable text, are already refused by pydantic.)
    """
    if "\x00" in value:
        raise ValueError("must not contain the NUL control character (\\u0000)")
    return value


# Whitespace as Python strips it (``str.isspace``), spelled out for patterns that both Python
# and the OpenAPI document's dialect (ECMA 262) read: ``\s`` differs between them (ECMA's
# leaves out \x1c-\x1f and \x85 and takes in \ufeff), and a pattern written with it would
# let the document call valid what the checks refuse.
SPACE = (
    "\\t\\n\\u000b\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)

# What the OpenAPI document says of such text: no NUL, and the length (counted after the
# surrounding whitespace is trimmed; the document's limit is the stricter, untrimmed one).
NO_NUL = "^[^\\u0000]*$"


def text_schema(max_length: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "maxLength": max_length, "pattern": NO_NUL})


ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(storable),
    text_schema(200),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    AfterValidator(storable),
    text_schema(2000),
]
