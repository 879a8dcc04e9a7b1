"""A smoke test of llama.cpp in a child process: load a model, decode a few tokens for two
sequences in one batch (the path `generate` takes), report how it went.

Native code can die in ways Python cannot catch (SIGSEGV in a CPU kernel, SIGILL for an
instruction this CPU lacks, an abort). In a child process such a death is a message for the
caller instead of the caller's death. `ensure_runs` is called before a model is loaded
(`LoadedModel`): the first time a model is used with given settings on a machine it runs the
test, and keeps a passing verdict under the cache folder, keyed by what decides which native
code runs (llama-cpp-python's version and build, the CPU, the model's sha256, extra buffer
types, GPU layers). A failure is never kept: it is tested again next time.

Run as `python -m dpo_tui.generation.smoke SETTINGS_JSON`, with `DPO_TUI_SMOKE_CHILD=1` in its
environment (set by `run_smoke_test`): the child's own model load must not start another
child, and an environment variable holds in every module object (`-m` runs this file as
`__main__`, apart from the `dpo_tui.generation.smoke` that `LoadedModel` imports).

For tests only, `DPO_TUI_SMOKE_FAULT` (a signal name such as SIGSEGV) makes the child kill
itself with that signal as it starts to decode, as a crashing kernel would.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from dpo_tui.config import config_path
from dpo_tui.errors import DpoError, GenerationError
from dpo_tui.generation import native
from dpo_tui.generation.models import cache_dir, model_sha256
from dpo_tui.generation.runtime import llama_cpp

FAULT_ENV = "DPO_TUI_SMOKE_FAULT"
"""Test hook: the name of a signal the child sends itself as it starts to decode."""

SMOKE_TOKENS = 8
"""Tokens decoded per sequence."""

TIMEOUT_SECONDS = 900
"""How long the child may take (loading a large model from a slow disk included)."""

CHILD_ENV = "DPO_TUI_SMOKE_CHILD"
"""Set in the child's environment: a model loaded there is not checked again."""


@dataclass(frozen=True)
class SmokeSettings:
    """What the child loads and how: the settings that decide which native code runs."""

    model: str
    extra_buffers: bool
    n_gpu_layers: int
    threads: int


@dataclass(frozen=True)
class SmokeResult:
    """How the child's run went. `stage`: the last step it reached (starting, loading,
    decoding, done); `signal`: the signal that killed it, if one did."""

    ok: bool
    message: str
    stage: str
    seconds: float
    signal: int | None = None
    exit_code: int | None = None
    output_tail: str = ""


def run_smoke_test(settings: SmokeSettings, timeout: float = TIMEOUT_SECONDS) -> SmokeResult:
    """Load the model and decode in a child process; never raises for what the child does."""
    started = time.perf_counter()
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "dpo_tui.generation.smoke",
        json.dumps(asdict(settings)),
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=os.environ | {CHILD_ENV: "1"},
        )
    except subprocess.TimeoutExpired as expired:
        out = _decoded(expired.stdout)
        return SmokeResult(
            False,
            f"llama.cpp did not finish {_stage(out)} {Path(settings.model).name} within "
            f"{timeout:.0f} s",
            _stage(out),
            time.perf_counter() - started,
            output_tail=_tail(out, _decoded(expired.stderr)),
        )
    seconds = time.perf_counter() - started
    stage = _stage(done.stdout)
    tail = _tail(done.stdout, done.stderr)
    report = _report(done.stdout)
    if done.returncode == 0 and report.get("ok"):
        return SmokeResult(True, str(report["message"]), "done", seconds, output_tail=tail)
    if done.returncode < 0:
        number = -done.returncode
        return SmokeResult(
            False,
            f"llama.cpp crashed ({signal_name(number)}) while {stage} "
            f"{Path(settings.model).name} on this CPU",
            stage,
            seconds,
            signal=number,
            exit_code=done.returncode,
            output_tail=tail,
        )
    message = str(report.get("error") or _last_line(done.stderr) or "no output")
    return SmokeResult(False, message, stage, seconds, exit_code=done.returncode, output_tail=tail)


def signal_name(number: int) -> str:
    """`signal 11, SIGSEGV`, or `signal N` for one Python does not name."""
    try:
        return f"signal {number}, {signal.Signals(number).name}"
    except ValueError:
        return f"signal {number}"


def cache_key(settings: SmokeSettings) -> str:
    """What decides which native code a run takes, hashed: a verdict is reused only for all
    of it unchanged."""
    _, flags = native.cpu_description()
    facts = {
        "llama_cpp": llama_cpp.__version__,
        "library": _library_identity(),
        "system_info": native.system_info(),
        "cpu_flags": flags,
        "model_sha256": model_sha256(settings.model),
        "extra_buffers": settings.extra_buffers,
        "n_gpu_layers": settings.n_gpu_layers,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def verdict_path(settings: SmokeSettings) -> Path:
    return cache_dir() / "native-checks" / f"{cache_key(settings)}.json"


def ensure_runs(settings: SmokeSettings) -> SmokeResult | None:
    """Raise a GenerationError that says what to do if llama.cpp crashes on this machine with
    these settings; the child's result when it ran, None when a kept verdict answered."""
    if os.environ.get(CHILD_ENV):
        return None
    path = verdict_path(settings)
    if path.is_file():
        return None
    result = run_smoke_test(settings)
    if not result.ok:
        raise smoke_failure(result, settings)
    keep_verdict(settings, result, path)
    return result


def smoke_failure(result: SmokeResult, settings: SmokeSettings) -> GenerationError:
    """The error a failed smoke test becomes: what happened, and the next thing to try."""
    if result.signal is None and result.stage in {"starting", "loading"}:
        return GenerationError(result.message)
    if settings.extra_buffers:
        hint = (
            'try --repack off (or repack = "off" under [generation] in '
            f"{config_path()}); `dpo-tui doctor` explains this machine"
        )
    elif settings.n_gpu_layers:
        hint = "try --n-gpu-layers 0 (CPU only); `dpo-tui doctor` explains this machine"
    else:
        hint = (
            'rebuild llama-cpp-python for a generic CPU: CMAKE_ARGS="-DGGML_NATIVE=off" pip '
            f"install --force-reinstall --no-cache-dir --no-deps "
            f"llama-cpp-python=={llama_cpp.__version__}; then run `dpo-tui doctor`"
        )
    return GenerationError(
        f"{result.message}; the check ran in a separate process, so nothing was changed",
        hint=hint,
    )


def keep_verdict(settings: SmokeSettings, result: SmokeResult, path: Path | None = None) -> None:
    """Keep a passing verdict at `path` (default: `verdict_path`), written whole (temporary
    file, then rename); an unwritable cache only means the test runs again next time."""
    path = path or verdict_path(settings)
    record = {"settings": asdict(settings), "result": asdict(result), "at": time.time()}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(record, file)
            os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)


def _library_identity() -> str:
    """Size and modification time of the llama shared library: a rebuild changes them."""
    folder = Path(llama_cpp.__file__).parent / "lib"
    parts = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        with contextlib.suppress(OSError):
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return ";".join(parts)


def _decoded(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def _stage(stdout: str) -> str:
    stages = [line[6:].strip() for line in stdout.splitlines() if line.startswith("stage:")]
    return stages[-1] if stages else "starting"


def _report(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("result:"):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(line[7:])
                if isinstance(value, dict):
                    return value
    return {}


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _tail(stdout: str, stderr: str, lines: int = 20) -> str:
    return "\n".join((stdout.splitlines() + stderr.splitlines())[-lines:])


def _say(stage: str) -> None:
    print(f"stage: {stage}", flush=True)


def _child(settings: SmokeSettings) -> dict[str, object]:
    """What the child does: load, (test hook), decode two sequences together."""
    from dpo_tui.core.decoding import DecodingPreset
    from dpo_tui.core.models import Message
    from dpo_tui.generation.llama import LlamaBackend

    _say("loading")
    started = time.perf_counter()
    with LlamaBackend(
        settings.model,
        n_ctx=512,
        n_threads=settings.threads,
        n_gpu_layers=settings.n_gpu_layers,
        repack="on" if settings.extra_buffers else "off",
    ) as backend:
        loaded = time.perf_counter() - started
        _say("decoding")
        fault = os.environ.get(FAULT_ENV)
        if fault:
            os.kill(os.getpid(), signal.Signals[fault])
        presets = [
            DecodingPreset(name="greedy", temperature=0.0, max_tokens=SMOKE_TOKENS, seed=1),
            DecodingPreset(name="sampled", temperature=0.8, max_tokens=SMOKE_TOKENS, seed=2),
        ]
        messages = [Message(role="user", content="What is the capital of France?")]
        candidates = backend.generate(messages, presets)
    tokens = sum(c.token_count for c in candidates)
    seconds = time.perf_counter() - started
    return {
        "ok": True,
        "message": f"loaded in {loaded:.1f} s, decoded {tokens} tokens in 2 sequences "
        f"({seconds:.1f} s in all)",
    }


def main(argv: list[str]) -> int:
    """The child's entry point; prints `stage:` lines and a final `result:` JSON line."""
    _say("starting")
    try:
        settings = SmokeSettings(**json.loads(argv[0]))
        report = _child(settings)
    except DpoError as error:
        report = {"ok": False, "error": str(error)}
    _say("done")
    print("result:" + json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
