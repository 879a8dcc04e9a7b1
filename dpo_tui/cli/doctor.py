"""The doctor command."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dpo_tui.cli import cli
from dpo_tui.cli.options import (
    gpu_layers_option,
    json_option,
    model_option,
    repack_option,
    threads_option,
)
from dpo_tui.cli.output import say
from dpo_tui.config import RepackSetting


@cli.command()
@model_option("GGUF model to check (default: the bundled Gemma 3 270M).")
@repack_option
@gpu_layers_option
@threads_option
@click.option("--no-smoke", is_flag=True, help="Skip loading the model in a child process.")
@json_option
def doctor(
    model: Path | None,
    repack: RepackSetting | None,
    n_gpu_layers: int,
    threads: int | None,
    no_smoke: bool,
    as_json: bool,
) -> None:
    """What this install can do on this machine: versions, llama.cpp's build and CPU features,
    GPU support (and how to get it), the model, and a smoke test that loads it and decodes in
    a child process. Run it first when something fails; exit 1 if the main job cannot work."""
    from dpo_tui.services.doctor import diagnose

    report = diagnose(
        model, repack=repack, n_gpu_layers=n_gpu_layers, threads=threads, smoke_test=not no_smoke
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report)
    if report.problems:
        raise click.exceptions.Exit(1)


def _print(report: object) -> None:
    from dpo_tui.services.doctor import DoctorReport

    assert isinstance(report, DoctorReport)
    yes = {True: "yes", False: "no"}
    say(
        f"dpo-tui {report.dpo_tui} · Python {report.python} · llama-cpp-python "
        f"{report.llama_cpp_python} · {report.platform}"
    )
    say(
        f"CPU: {report.cpu}; {report.usable_cores} usable cores; generate uses "
        f"{report.threads} threads (OpenMP threads wait "
        f"{'passively' if report.passive_wait else 'as set by OMP_WAIT_POLICY'})"
    )
    for backend, features in report.backends.items():
        on = [k for k, v in features.items() if v not in {"0", ""}]
        say(f"llama.cpp {backend} backend: {' '.join(on) or '(no features reported)'}")
    say(f"AMX: {yes[report.amx]} · OpenMP: {yes[report.openmp]}")
    repack = report.repack
    say(
        f"repack: {'on' if repack['extra_buffers'] else 'off'} ({repack['setting']}): "
        f"{repack['reason']}"
    )
    gpu = report.gpu
    devices = ", ".join(
        f"{d.name} ({d.description}, {d.memory_total / 2**30:.0f} GiB)" for d in gpu.devices
    )
    say(f"devices: {devices or 'none listed'}")
    if gpu.offload_supported:
        say("GPU offload: yes (use --n-gpu-layers -1)")
    else:
        found = (
            f"this machine seems to have a {gpu.likely_gpu.upper()} GPU, but "
            if (gpu.likely_gpu)
            else ""
        )
        say(
            f"GPU offload: no: {found}this llama-cpp-python was built for the CPU only. "
            f"To build it with GPU support: {gpu.rebuild_command}"
        )
    model = report.model
    if model.ok:
        kind = "bundled model" if model.bundled else "model"
        say(f"{kind}: {model.path} (sha256 {str(model.sha256)[:12]}..., ok)")
    if report.smoke is not None:
        if report.smoke["ok"]:
            say(f"smoke test: ok: {report.smoke['message']}")
        else:
            say(f"smoke test: FAILED: {report.smoke['message']}", style="bold red")
            tail = str(report.smoke.get("output_tail") or "")
            for line in tail.splitlines()[-8:]:
                say(f"  | {line}")
    for problem in report.problems:
        say(f"problem: {problem}", style="bold red")
    if not report.problems:
        say("ok: everything generate needs works on this machine", style="bold green")
