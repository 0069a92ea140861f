"""Small helpers for the sentences the API answers with."""

from __future__ import annotations


def with_article(word: str) -> str:
    """``"an 'ingest'"``, ``"a viewer"``: by the first letter (past any quote), which is right
    for every word we put after it (roles and record kinds)."""
    first = word.lstrip("'\"")[:1].lower()
    return f"{'an' if first in 'aeiou' else 'a'} {word}"
