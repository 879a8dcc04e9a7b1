"""What the benchmarks share: the machine line each prints first, and each run's figures saved
as JSON under `benchmarks/results/` with the machine and the git commit, so that two runs (two
commits, two machines) compare with `python benchmarks/compare.py A.json B.json`."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def _commit() -> str:
    """The checkout's commit, with `+` when the work tree has changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{'+' if dirty else ''}" or "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, object]:
    """The facts two runs must share for their times to compare."""
    return {
        "commit": _commit(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "llama_cpp_python": _package("llama-cpp-python"),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
    }


class Run:
    """One benchmark run: prints the machine line, collects figures, saves them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.machine = machine()
        self.figures: dict[str, dict[str, object]] = {}
        self.started = time.time()
        facts = ", ".join(f"{key} {value}" for key, value in self.machine.items())
        print(f"dpo-tui {name} benchmark: {facts}")

    def figure(self, key: str, value: float, unit: str, better: str = "lower") -> None:
        """A measured figure; `better`: whether lower or higher values are better."""
        self.figures[key] = {"value": value, "unit": unit, "better": better}

    def save(self) -> Path:
        """Write the run to `benchmarks/results/NAME-COMMIT-TIME.json`; returns the path."""
        RESULTS.mkdir(exist_ok=True)
        stamp = datetime.fromtimestamp(self.started, UTC).strftime("%Y%m%dT%H%M%S")
        path = RESULTS / f"{self.name}-{self.machine['commit']}-{stamp}.json"
        record = {
            "benchmark": self.name,
            "started": stamp,
            "machine": self.machine,
            "figures": self.figures,
        }
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"saved: {path}")
        return path
