"""Prompt importers, one module per format; `read_prompts` picks one by suffix or name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from dpo_tui.core.importers import delimited, json_array, jsonl, parquet, text
from dpo_tui.core.importers.base import ImportOptions, PromptFile, RawRecord, to_prompts
from dpo_tui.errors import InputFileError

Reader = Callable[[Path, ImportOptions], Iterator[RawRecord]]

FORMATS: dict[str, Reader] = {
    "jsonl": jsonl.read,
    "json": json_array.read,
    "csv": delimited.read_csv,
    "tsv": delimited.read_tsv,
    "text": text.read,
    "parquet": parquet.read,
}

SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def detect_format(path: Path, format_name: str | None = None) -> str:
    """The format named, or the one the file's suffix implies."""
    if format_name is not None:
        if format_name not in FORMATS:
            raise InputFileError(
                path, f"unknown format {format_name!r} (known: {', '.join(FORMATS)})"
            )
        return format_name
    detected = SUFFIXES.get(path.suffix.lower())
    if detected is None:
        raise InputFileError(
            path,
            f"cannot tell the format from the suffix {path.suffix or '(none)'!r}",
            hint=f"name it with --format ({', '.join(FORMATS)})",
        )
    return detected


def read_prompts(path: Path, format_name: str, options: ImportOptions) -> PromptFile:
    """Every distinct prompt in the file, validated; raises on the first bad record, writing
    nothing."""
    unit = "row" if format_name == "parquet" else "line"
    return to_prompts(path, FORMATS[format_name](path, options), options, unit=unit)
