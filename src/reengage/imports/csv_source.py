"""A CSV export read through a mapping profile, one row at a time (a file of any size).

What spreadsheets do to a CSV is undone here: a byte-order mark, ``;`` or tab delimiters
(found from the header line unless the profile says), Windows line ends, and Excel's
``="0123"`` escape that keeps leading zeros of ids.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from reengage.imports.profiles import BoundKind, Profile, bind
from reengage.imports.service import Found, Item, SourceRefused

CANDIDATE_DELIMITERS = (",", ";", "\t", "|")


def unescape(cell: str) -> str:
    """Excel's ``="0123"`` (a formula giving a text) is the text ``0123``."""
    if len(cell) >= 3 and cell.startswith('="') and cell.endswith('"'):
        return cell[2:-1].replace('""', '"')
    return cell


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header line (outside quotes) most often."""
    counts = {d: 0 for d in CANDIDATE_DELIMITERS}
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(CANDIDATE_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read through it (the progress bar's position)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class CsvSource:
    """Rows of one CSV file as records of the profile's kinds (a wide report gives a patient
    and an appointment per row)."""

    def __init__(self, path: Path, profile: Profile, name: str | None = None) -> None:
        self.path = path
        self.profile = profile
        self.name = name or path.name
        self.total = path.stat().st_size
        self._counter: _CountingReader | None = None

    @property
    def done(self) -> int:
        return self._counter.count if self._counter else 0

    def __iter__(self) -> Iterator[Item | Found]:
        with self.path.open("rb") as raw:
            self._counter = _CountingReader(raw)
            buffered = io.BufferedReader(self._counter, buffer_size=1 << 16)
            text = io.TextIOWrapper(buffered, encoding=self.profile.encoding, newline="")
            try:
                yield from self._rows(text)
            except UnicodeDecodeError:
                raise SourceRefused(
                    [
                        Found(
                            self.name,
                            "file",
                            None,
                            None,
                            f"is not {self.profile.encoding} text: save it as 'CSV UTF-8' or "
                            'set the profile\'s encoding (e.g. encoding = "cp1252")',
                        )
                    ]
                ) from None

    def _rows(self, text: io.TextIOWrapper) -> Iterator[Item | Found]:
        first = text.readline()
        if not first.strip():
            raise SourceRefused([Found(self.name, "row 1", None, None, "the file is empty")])
        delimiter = self.profile.delimiter or sniff_delimiter(first)
        header = [unescape(c).strip() for c in next(csv.reader([first], delimiter=delimiter))]
        missing = [c for c in self.profile.columns if c not in header]
        if missing:
            raise SourceRefused(
                [
                    Found(
                        self.name,
                        "row 1",
                        None,
                        column,
                        f"the profile '{self.profile.name}' reads this column, and the header "
                        "does not have it",
                    )
                    for column in missing
                ]
            )
        kinds = bind(self.profile, header)
        labels = {kind.kind: _labels(kind) for kind in kinds}
        width = len(header)
        for number, row in enumerate(csv.reader(text, delimiter=delimiter), start=2):
            if not any(cell.strip() for cell in row):
                continue
            at = f"row {number}"
            if len(row) < width:
                row += [""] * (width - len(row))
            row = [unescape(cell) for cell in row]
            for kind in kinds:
                values, problems = kind.record(row)
                yield Item(
                    kind.kind,
                    self.name,
                    at,
                    values,
                    [(_label(one.name, one.columns), reason) for one, reason in problems],
                    labels[kind.kind],
                    kind.only_new,
                )


def _label(name: str, columns: tuple[str, ...]) -> str:
    """How a problem names a field: the file's column(s), and the field they fill (when
    that is another name)."""
    if not columns or columns == (name,):
        return name
    return f"{' + '.join(columns)} ({name})"


def _labels(kind: BoundKind) -> dict[str, str]:
    return {one.name: _label(one.name, one.columns) for one, _ in kind.fields}
