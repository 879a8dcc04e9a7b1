"""Apache Parquet, read with pyarrow; records are numbered by row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dpo_tui.core.importers.base import ImportOptions, RawRecord, check_file
from dpo_tui.errors import InputFileError

BATCH_ROWS = 64
"""Rows decoded at a time. Few: a small file can hold one large text that thousands of rows
point to (dictionary encoding), and each row is a copy of it once decoded."""


def read(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    check_file(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(path, f"not a readable Parquet file ({exc})") from None
    row = 0
    batches = parquet.iter_batches(batch_size=BATCH_ROWS)
    while True:
        try:
            batch = next(batches, None)
            values = [] if batch is None else batch.to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise InputFileError(path, f"not readable after row {row} ({exc})") from None
        if batch is None:
            return
        for value in values:
            row += 1
            yield RawRecord(row, value)
