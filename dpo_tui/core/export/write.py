"""Write train/validation files in one format, plus a manifest, into an output folder."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dpo_tui.core.export.formats import RECORDS, Record, with_origin
from dpo_tui.core.models import PreferencePair
from dpo_tui.core.spreadsheet import neutralise_cells
from dpo_tui.paths import file_sha256

SPLIT_NAMES = {"openai": ("training", "validation")}
DATASET_CARD = """---
configs:
- config_name: default
  data_files:
{files}
---

# {title}

Preference pairs exported by dpo-tui (format `hf`): `prompt`, `chosen`, `rejected` as TRL's
DPOTrainer reads them, with `diagnosis` (why the chosen response is better), per-criterion
`scores`, `margin`, `annotators`, `prompt_id` and `origin` (`human`, or `judge` for a pair a judge
model made on a prompt no human judged). Splits are grouped by prompt and near-duplicate
cluster, so no prompt appears in both. See `manifest.json` for counts, policy and rubric hash.
"""


def write_split_files(
    format_name: str,
    splits: dict[str, Sequence[PreferencePair]],
    out: Path,
    conversational: bool = False,
    *,
    title: str,
    mark_origin: bool = False,
) -> list[Path]:
    """Write each non-empty split in `format_name` into the folder `out`; returns the files
    written. `title` heads the dataset card (`hf`): the name the folder will have. With
    `mark_origin`, every record says who made its pair (`origin`), in every format."""
    to_record = RECORDS[format_name]
    names = dict(
        zip(
            ("train", "validation"),
            SPLIT_NAMES.get(format_name, ("train", "validation")),
            strict=True,
        )
    )
    written = []
    for split, pairs in splits.items():
        if not pairs:
            continue
        records = [to_record(pair, conversational) for pair in pairs]
        if mark_origin:
            records = [with_origin(r, p) for r, p in zip(records, pairs, strict=True)]
        name = names[split]
        if format_name == "hf":
            path = out / "data" / f"{split}-00000-of-00001.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(records), path)
        elif format_name == "csv":
            path = out / f"{name}.csv"
            _write_csv(path, records)
        elif format_name == "json":
            path = out / f"{name}.json"
            path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            path = out / f"{name}.jsonl"
            with path.open("w", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        written.append(path)
    if format_name == "hf":
        written.append(_write_card(out, [s for s, pairs in splits.items() if pairs], title))
    return written


def _write_csv(path: Path, records: list[Record]) -> None:
    """CSV, with text cells a spreadsheet would run as formulas neutralised."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(neutralise_cells(record) for record in records)


def _write_card(out: Path, splits: list[str], title: str) -> Path:
    files = "\n".join(f"  - split: {split}\n    path: data/{split}-*.parquet" for split in splits)
    path = out / "README.md"
    path.write_text(DATASET_CARD.format(files=files, title=title), encoding="utf-8")
    return path


def file_hashes(paths: Sequence[Path], root: Path) -> dict[str, str]:
    """Relative path -> sha256, for the manifest and the round record."""
    return {str(path.relative_to(root)): file_sha256(path) for path in paths}
