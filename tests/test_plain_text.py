"""Whitespace and the document's patterns: what a pattern calls valid, the checks accept.

The patterns are read by Python here and by ECMA 262 engines in clients; both read an
explicit class the same way, which is why ``SPACE`` spells it out instead of ``\\s``.
"""

from __future__ import annotations

import re
import sys

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from reengage.plain_text import SPACE
from reengage.records.schemas import BLANK_SCHEMA, EMAIL_SCHEMA, NAME_SCHEMA, Email, Name

# Every whitespace either dialect knows, NUL, and letters and the email's own marks.
AWKWARD = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u3000"
TEXT = st.text(alphabet=st.sampled_from(AWKWARD + "\ufeff\x00ab@."), max_size=12)


def test_space_is_exactly_what_python_strips() -> None:
    space = re.compile(f"[{SPACE}]")
    everything = (chr(i) for i in range(sys.maxunicode + 1))
    assert {c for c in everything if space.fullmatch(c)} == {
        chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()
    }


@given(TEXT)
def test_a_name_the_document_allows_is_accepted_unchanged(value: str) -> None:
    if re.fullmatch(NAME_SCHEMA["pattern"], value):
        assert TypeAdapter(Name).validate_python(value) == value


@given(TEXT)
def test_an_email_the_document_allows_is_accepted_unchanged(value: str) -> None:
    if re.fullmatch(EMAIL_SCHEMA["pattern"], value):
        assert TypeAdapter(Email).validate_python(value) == value


@given(TEXT)
def test_a_blank_the_document_allows_is_taken_as_absent(value: str) -> None:
    if re.fullmatch(BLANK_SCHEMA["pattern"], value):
        assert TypeAdapter(Email).validate_python(value) is None
    assert (re.fullmatch(BLANK_SCHEMA["pattern"], value) is not None) == (not value.strip())
