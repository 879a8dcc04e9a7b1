"""The child-process smoke test of llama.cpp, its kept verdict, and `doctor`, on the real bundled
model; a crash is simulated by the child killing itself with SIGSEGV as it starts to decode."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from dpo_tui.cli import cli
from dpo_tui.errors import GenerationError
from dpo_tui.generation import smoke
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.native import choose_repack
from tests.conftest import DATA, snapshot


@pytest.fixture(scope="module")
def model() -> Path:
    return default_model_path()


@pytest.fixture
def settings(model: Path) -> smoke.SmokeSettings:
    return smoke.SmokeSettings(str(model), choose_repack("auto").extra_buffers, 0, 2)


@pytest.fixture
def crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(smoke.FAULT_ENV, "SIGSEGV")


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Path) -> Path:
    """An empty cache folder (no kept verdicts); the model is still the bundled one."""
    monkeypatch.setenv("DPO_TUI_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_bundled_model_passes(settings: smoke.SmokeSettings):
    result = smoke.run_smoke_test(settings)
    assert result.ok, result.output_tail
    assert result.stage == "done" and result.signal is None
    assert "decoded 16 tokens in 2 sequences" in result.message


@pytest.mark.usefixtures("crashing")
def test_a_native_crash_in_the_child_is_a_message(settings: smoke.SmokeSettings):
    result = smoke.run_smoke_test(settings)
    assert not result.ok
    assert result.signal == signal.SIGSEGV and result.stage == "decoding"
    assert result.message == (
        "llama.cpp crashed (signal 11, SIGSEGV) while decoding gemma-3-270m-q4_k_m.gguf on this CPU"
    )
    assert "Fatal Python error: Segmentation fault" in result.output_tail  # faulthandler's
    error = smoke.smoke_failure(result, settings)
    assert "nothing was changed" in str(error)
    if settings.extra_buffers:
        assert error.hint and error.hint.startswith("try --repack off")
    without = smoke.SmokeSettings(settings.model, False, 0, 2)
    assert "GGML_NATIVE=off" in str(smoke.smoke_failure(result, without).hint)
    on_gpu = smoke.SmokeSettings(settings.model, False, -1, 2)
    assert "--n-gpu-layers 0" in str(smoke.smoke_failure(result, on_gpu).hint)


def test_a_model_llama_cpp_cannot_load_is_its_own_error(tmp_path: Path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    result = smoke.run_smoke_test(smoke.SmokeSettings(str(broken), True, 0, 1))
    assert not result.ok and result.signal is None
    assert "llama.cpp could not load the model" in result.message


@pytest.mark.usefixtures("fresh_cache")
def test_a_passing_verdict_is_kept_and_reused(
    settings: smoke.SmokeSettings, monkeypatch: pytest.MonkeyPatch
):
    assert not smoke.verdict_path(settings).exists()
    assert smoke.ensure_runs(settings) is not None  # ran the child
    kept = json.loads(smoke.verdict_path(settings).read_text(encoding="utf-8"))
    assert kept["result"]["ok"] and kept["settings"]["model"] == settings.model
    monkeypatch.setenv(smoke.FAULT_ENV, "SIGSEGV")  # would crash, were the child run again
    assert smoke.ensure_runs(settings) is None
    other = smoke.SmokeSettings(settings.model, not settings.extra_buffers, 0, 2)
    assert smoke.cache_key(other) != smoke.cache_key(settings)
    with pytest.raises(GenerationError, match="crashed"):
        smoke.ensure_runs(other)
    assert not smoke.verdict_path(other).exists()  # a failure is not kept


@pytest.mark.usefixtures("fresh_cache", "crashing")
def test_generate_stops_with_the_doctors_message_and_touches_nothing(tmp_path: Path, model: Path):
    runner = CliRunner()
    project = tmp_path / "p.dpo"
    args = ["init", str(project), "--rubric", str(DATA / "rubrics" / "good.toml"), "-a", "al"]
    assert runner.invoke(cli, args).exit_code == 0
    assert runner.invoke(cli, ["import", str(project), str(DATA / "inputs" / "good.jsonl")])
    before = snapshot(project)
    result = runner.invoke(cli, ["generate", str(project), "--model", str(model), "--n", "2"])
    assert result.exit_code == 1
    assert "llama.cpp crashed (signal 11, SIGSEGV) while decoding" in result.output
    assert "nothing was changed" in result.output
    assert snapshot(project) == before


def test_doctor_explains_this_machine():
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    for expected in (
        "llama-cpp-python 0.3.36",
        "usable cores; generate uses",
        "llama.cpp CPU backend:",
        "AMX: ",
        "repack: ",
        "GPU offload: ",
        "bundled model: ",
        "smoke test: ok",
    ):
        assert expected in result.output, expected
    report = json.loads(CliRunner().invoke(cli, ["doctor", "--json", "--no-smoke"]).output)
    assert report["llama_cpp_python"] == "0.3.36" and report["problems"] == []
    assert report["model"]["ok"] and report["model"]["bundled"]
    assert report["smoke"] is None and "CPU" in report["backends"]
    if not report["gpu"]["offload_supported"]:
        assert "-DGGML_" in report["gpu"]["rebuild_command"]


@pytest.mark.usefixtures("crashing")
def test_doctor_reports_a_crash_and_exits_1():
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "smoke test: FAILED: llama.cpp crashed (signal 11, SIGSEGV) while decoding" in (
        result.output
    )
    report = json.loads(CliRunner().invoke(cli, ["doctor", "--json"]).output)
    assert report["smoke"]["signal"] == 11 and len(report["problems"]) == 1
