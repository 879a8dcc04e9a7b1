"""llama.cpp's own tools as anchors for the benchmarks, built from the llama.cpp source that the
installed llama-cpp-python vendors, so that they run the same llama.cpp as dpo-tui.

`llama_batched_bench` finds `llama-batched-bench`: in the folder given (`--llama-tools DIR`, or
the `DPO_TUI_LLAMA_TOOLS` environment variable), else in the cache
(`~/.cache/dpo-tui/llama-tools/VERSION/`, under `$DPO_TUI_CACHE` or `$XDG_CACHE_HOME` when set),
else it builds it there: the llama-cpp-python sdist of the installed version fetched by
`pip download`, its `vendor/llama.cpp` extracted, and only that target built with cmake
(Release, CPU only, static, no curl or OpenSSL). A tool that cannot be found or built raises
`ToolUnavailable` with the reason; the benchmark then goes on without its anchor.
`batched_bench` runs it and reads its JSONL output (its Markdown table, for a binary too old to
write JSONL).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from dpo_tui.generation.models import cache_dir

BATCHED_BENCH = "llama-batched-bench"
TOOLS_ENV = "DPO_TUI_LLAMA_TOOLS"
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF",
    "-DGGML_CUDA=OFF",
    "-DGGML_METAL=OFF",
    "-DGGML_VULKAN=OFF",
)


class ToolUnavailable(Exception):
    """A llama.cpp tool could not be found or built; the message says why."""


@dataclass(frozen=True)
class Tool:
    """A tool's binary, and how it was found: "given", "cached" or "built"."""

    path: Path
    how: str
    build_seconds: float | None = None


def installed_version() -> str:
    try:
        return version("llama-cpp-python")
    except PackageNotFoundError as error:
        raise ToolUnavailable("llama-cpp-python is not installed") from error


def tools_cache() -> Path:
    """Where built tools are kept: one folder per llama-cpp-python version."""
    return cache_dir() / "llama-tools" / installed_version()


def llama_batched_bench(folder: Path | None = None) -> Tool:
    """`llama-batched-bench`: from `folder` (or `$DPO_TUI_LLAMA_TOOLS`), else the cache, else
    built into the cache (minutes; progress is printed)."""
    given = folder or (Path(os.environ[TOOLS_ENV]) if os.environ.get(TOOLS_ENV) else None)
    if given is not None:
        given = given.expanduser()
        for path in (given, given / BATCHED_BENCH, given / "bin" / BATCHED_BENCH):
            if path.is_file() and os.access(path, os.X_OK):
                return Tool(path.resolve(), "given")
        raise ToolUnavailable(f"{given}: no executable {BATCHED_BENCH} there (or in bin/)")
    cached = tools_cache() / BATCHED_BENCH
    if cached.is_file() and os.access(cached, os.X_OK):
        return Tool(cached, "cached")
    started = time.perf_counter()
    build(BATCHED_BENCH, cached)
    return Tool(cached, "built", time.perf_counter() - started)


def build(target: str, destination: Path) -> None:
    """Build `target` from the installed version's vendored llama.cpp into `destination`;
    the build's output goes to `build.log` next to it."""
    for program in ("cmake", "c++"):
        if shutil.which(program) is None:
            raise ToolUnavailable(f"cannot build {target}: {program} is not on PATH")
    release = installed_version()
    destination.parent.mkdir(parents=True, exist_ok=True)
    log = destination.parent / "build.log"
    with tempfile.TemporaryDirectory(prefix="llama-tools-", dir=destination.parent) as temp:
        work = Path(temp)
        print(f"  building {target} from llama-cpp-python {release}'s llama.cpp (log: {log})")
        with log.open("w", encoding="utf-8") as output:
            step(
                [
                    sys.executable,
                    *("-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
                    f"llama-cpp-python=={release}",
                    *("-d", str(work)),
                ],
                output,
                log,
                "download the llama-cpp-python sdist",
            )
            source = extract(work, release)
            build_dir = work / "build"
            jobs = str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)
            step(
                ["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS],
                output,
                log,
                "configure llama.cpp with cmake",
            )
            step(
                [
                    *("cmake", "--build", str(build_dir), "--config", "Release"),
                    *("--target", target, "-j", jobs),
                ],
                output,
                log,
                f"build {target}",
            )
        built = next((p for p in build_dir.rglob(target) if p.is_file()), None)
        if built is None:
            raise ToolUnavailable(f"the build finished without a {target} binary (see {log})")
        partial = destination.with_name(f"{destination.name}.part")
        shutil.copy2(built, partial)
        os.replace(partial, destination)


def step(command: list[str], output: TextIO, log: Path, what: str) -> None:
    """Run one build step, its output appended to the log; ToolUnavailable if it fails."""
    print(f"  {what}: {' '.join(command[:6])}{' ...' if len(command) > 6 else ''}", flush=True)
    output.write(f"$ {' '.join(command)}\n")
    output.flush()
    try:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT)
    except OSError as error:
        raise ToolUnavailable(f"could not {what}: {error}") from error
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise ToolUnavailable(
            f"could not {what} (exit status {result.returncode}); the log's last lines:\n    "
            + "\n    ".join(tail)
        )


def extract(folder: Path, release: str) -> Path:
    """The sdist's `vendor/llama.cpp`, extracted under `folder`."""
    archives = list(folder.glob("*.tar.gz"))
    if not archives:
        raise ToolUnavailable(f"pip download left no llama-cpp-python {release} sdist")
    with tarfile.open(archives[0]) as archive:
        members = [m for m in archive.getmembers() if "/vendor/llama.cpp/" in f"{m.name}/"]
        if not members:
            raise ToolUnavailable(f"{archives[0].name} holds no vendor/llama.cpp")
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            archive.extractall(folder / "src", members=members, filter="data")
        else:
            archive.extractall(folder / "src", members=members)
    found = next((folder / "src").glob("*/vendor/llama.cpp"), None)
    if found is None or not (found / "CMakeLists.txt").is_file():
        raise ToolUnavailable(f"{archives[0].name}: vendor/llama.cpp has no CMakeLists.txt")
    return found


@dataclass(frozen=True)
class BatchedBenchResult:
    """One row of llama-batched-bench: prompt tokens (pp), generated tokens per sequence (tg),
    sequences (pl); times in seconds, speeds in tokens/s (S_PP, S_TG, S as it prints them)."""

    pp: int
    tg: int
    pl: int
    t_pp: float
    speed_pp: float
    t_tg: float
    speed_tg: float
    t: float
    speed: float

    @property
    def generated_per_second(self) -> float:
        """Generated tokens over the whole time, prompt included: the rate that compares with
        an end-to-end tokens/s that counts generated tokens only."""
        return self.pl * self.tg / self.t


def batched_bench(
    tool: Path,
    model: Path,
    *,
    threads: int,
    prompt_tokens: int,
    new_tokens: int,
    sequences: int,
    n_ctx: int,
    n_batch: int,
    extra_buffers: bool,
) -> tuple[BatchedBenchResult, list[str]]:
    """Run llama-batched-bench as dpo-tui's LlamaBackend decodes: one prompt shared by all
    sequences (`-pps`) in a unified KV cache (`-kvu`), same threads, context and batch, extra
    buffer types as chosen. The result and the command line."""
    command = [
        str(tool),
        *("-m", str(model), "-t", str(threads), "-tb", str(threads), "-ngl", "0"),
        *("-c", str(n_ctx), "-b", str(n_batch), "-ub", str(n_batch), "-fa", "auto"),
        *("-npp", str(prompt_tokens), "-ntg", str(new_tokens), "-npl", str(sequences)),
        "-pps",
        "-kvu",
        *(() if extra_buffers else ("-nr",)),
    ]
    result = run_tool([*command, "--output-format", "jsonl"])
    rows = [
        json.loads(line)
        for line in result.stdout.splitlines() + result.stderr.splitlines()
        if line.startswith("{") and '"speed_tg"' in line
    ]
    if rows:
        keys = BatchedBenchResult.__dataclass_fields__
        return BatchedBenchResult(**{k: v for k, v in rows[-1].items() if k in keys}), command
    result = run_tool(command)  # an older binary: no JSONL, read its Markdown table
    for line in (result.stdout + result.stderr).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0].isdigit():
            pp, tg, pl, _, t_pp, s_pp, t_tg, s_tg, t, s = cells
            floats = (float(x) for x in (t_pp, s_pp, t_tg, s_tg, t, s))
            return BatchedBenchResult(int(pp), int(tg), int(pl), *floats), command
    raise ToolUnavailable(f"{tool.name} printed no result row:\n{result.stderr[-2000:]}")


def run_tool(command: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ToolUnavailable(f"could not run {command[0]}: {error}") from error
    if result.returncode != 0 and "--output-format" not in command:
        raise ToolUnavailable(
            f"{Path(command[0]).name} failed (exit status {result.returncode}):\n"
            + result.stderr[-2000:]
        )
    return result
