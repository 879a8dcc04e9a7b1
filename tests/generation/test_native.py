"""The repack choice from llama.cpp's system info, the config key, and that the choice reaches
the real model load (llama.cpp's log names the buffer the weights went into)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpo_tui.config import ConfigError, load_config
from dpo_tui.errors import GenerationError
from dpo_tui.generation import native
from dpo_tui.generation.llama import LlamaBackend

NO_AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 |"
)
"""As llama-cpp-python 0.3.36 built natively prints it on an AMD EPYC (AVX-512, no AMX)."""

AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
)
"""The same build on an Intel Sapphire Rapids Xeon: AMX compiled in and used."""

CUDA_AND_CPU = "CUDA : ARCHS = 890,900 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | " + NO_AMX


def test_auto_turns_extra_buffer_types_off_when_llama_cpp_reports_amx():
    choice = native.choose_repack("auto", AMX)
    assert not choice.extra_buffers
    assert "AMX" in choice.reason and "20824" in choice.reason


def test_auto_keeps_extra_buffer_types_on_without_amx():
    assert native.choose_repack("auto", NO_AMX).extra_buffers
    assert native.choose_repack("auto", CUDA_AND_CPU).extra_buffers


@pytest.mark.parametrize("info", [AMX, NO_AMX])
def test_the_override_is_obeyed_whatever_the_cpu(info: str):
    assert native.choose_repack("on", info).extra_buffers
    assert not native.choose_repack("off", info).extra_buffers


def test_an_amx_feature_set_to_zero_is_not_amx():
    assert not native.reports_amx(NO_AMX.replace("REPACK = 1 |", "AMX_INT8 = 0 | REPACK = 1 |"))


def test_system_info_is_read_per_backend():
    features = native.backend_features(CUDA_AND_CPU)
    assert list(features) == ["CUDA", "CPU"]
    assert features["CUDA"]["ARCHS"] == "890,900"
    assert features["CPU"]["AVX512"] == "1" and features["CPU"]["OPENMP"] == "1"
    assert native.backend_features(native.system_info())["CPU"]  # this install's own


def test_the_config_file_sets_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "config.toml"
    config.write_text('[generation]\nrepack = "off"\n', encoding="utf-8")
    monkeypatch.setenv("DPO_TUI_CONFIG", str(config))
    assert load_config().repack == "off"
    assert native.choose_repack(None, NO_AMX) == native.choose_repack("off", NO_AMX)
    assert native.choose_repack("on", AMX).extra_buffers  # the option wins over the file


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[generation]\nrepack = "maybe"\n', "generation.repack: must be one of auto, on, off"),
        ("[generation]\nthreads = 3\n", "unknown key 'threads'"),
        ('generation = "off"\n', "generation: must be a table"),
    ],
)
def test_a_bad_repack_setting_is_refused(tmp_path: Path, text: str, problem: str):
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_config(config)


def _repack_buffers(caplog: pytest.LogCaptureFixture, repack: str) -> list[str]:
    caplog.clear()
    with (
        caplog.at_level(logging.DEBUG, logger="dpo_tui.generation.runtime"),
        LlamaBackend(n_ctx=256, repack=repack),  # type: ignore[arg-type]
    ):
        pass
    return [
        r.getMessage()
        for r in caplog.records
        if "model buffer size" in r.getMessage()
        and ("REPACK" in r.getMessage() or "AMX" in r.getMessage())
    ]


def test_the_choice_reaches_llama_cpp(caplog: pytest.LogCaptureFixture):
    """With repack off, no weights go into an extra buffer type; with it on, they do on a CPU
    with repack kernels for Q4_K (AVX2), and on an AMX CPU the smoke check refuses instead of
    crashing the process."""
    assert _repack_buffers(caplog, "off") == []
    info = native.system_info()
    if native.reports_amx(info):
        with pytest.raises(GenerationError, match=r"crashed .*--repack off|repack off"):
            _repack_buffers(caplog, "on")
    elif native.backend_features(info).get("CPU", {}).get("AVX2") == "1":
        assert _repack_buffers(caplog, "on")


@pytest.mark.parametrize(
    "module", ["dpo_tui.generation.llama", "dpo_tui.services.judging", "dpo_tui.cli"]
)
def test_openmp_waits_passively_whatever_module_loads_llama_cpp_first(module):
    """`runtime` must be imported before anything else imports llama_cpp (see its docstring):
    an import of llama_cpp placed before it turns passive waiting off, silently."""
    code = f"import {module}, sys; from dpo_tui.generation import runtime; "
    code += "sys.exit(0 if runtime.passive_wait else 1)"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
