"""Apache Parquet, read with pyarrow; records are numbered by row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dpo_tui.core.importers.base import ImportOptions, RawRecord, check_file
from dpo_tui.errors import InputFileError


def read(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    check_file(path)
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(path, f"not a readable Parquet file ({exc})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for value in batch.to_pylist():
            row += 1
            yield RawRecord(row, value)
