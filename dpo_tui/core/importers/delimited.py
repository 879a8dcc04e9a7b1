"""CSV and TSV with a header row; quoted fields may span lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from dpo_tui.core.importers.base import ImportOptions, RawRecord, read_text
from dpo_tui.errors import InputFileError

MAX_FIELD_CHARS = 2**24
"""Characters one cell may hold: above any text dpo-tui writes (the csv module's own limit,
131,072, is below a long response it exports), bounded as the file is by being read whole."""
csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))


def read_csv(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    return _read(path, options, ",")


def read_tsv(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    return _read(path, options, "\t")


def _read(path: Path, options: ImportOptions, delimiter: str) -> Iterator[RawRecord]:
    reader = csv.reader(
        io.StringIO(read_text(path, options.encoding), newline=""), delimiter=delimiter, strict=True
    )
    header: list[str] | None = None
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputFileError(path, f"not valid CSV: {exc}", line=start) from None
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            _check_header(path, line, header)
            continue
        if len(row) != len(header):
            raise InputFileError(
                path,
                f"{len(row)} values, but the header has {len(header)} columns",
                line=line,
                hint="quote values that contain the delimiter or line breaks",
            )
        yield RawRecord(line, dict(zip(header, row, strict=True)))


def _check_header(path: Path, line: int, header: list[str]) -> None:
    if any(not name for name in header):
        raise InputFileError(path, "the header row has an empty column name", line=line)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputFileError(path, f"the header names column {name!r} twice", line=line)
        seen.add(name)
