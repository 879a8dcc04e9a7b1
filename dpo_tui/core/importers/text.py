"""Plain text: one prompt per line, or prompts separated by blank lines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dpo_tui.core.importers.base import ImportOptions, RawRecord, read_text


def read(path: Path, options: ImportOptions) -> Iterator[RawRecord]:
    """`auto` reads blocks when blank lines separate blocks and some block spans several lines."""
    lines = read_text(path, options.encoding).splitlines()
    blocks = _blocks(lines)
    mode = options.text_mode
    if mode == "auto":
        multi_line = any(len(block) > 1 for _, block in blocks)
        mode = "blocks" if len(blocks) > 1 and multi_line else "lines"
    if mode == "blocks":
        for start, block in blocks:
            yield RawRecord(start, "\n".join(block))
    else:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield RawRecord(number, line)


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks
