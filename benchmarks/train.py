"""Benchmark: `train`'s DPO training (our `generation.training.train_dpo`) against a plain TRL
script doing the same on the same data, in one process, `--rounds` times (which side goes
first alternates); then, with `--round-pairs N`, our side alone on a round of N pairs.

Data: the first `--pairs` hand-written sample prompts, chosen = their second response,
rejected = their first, rendered as `train` renders a round (`preference_records`).
Base: the bundled Gemma 3 270M, converted once by transformers and cached (`prepare_base`).
Both sides: LoRA (r 16, alpha 32, all linear projections), batch 2, one epoch, reference
log-probabilities precomputed, fp32 on the CPU (or `--device cuda`), the same DPOConfig for
everything the training loop computes (seeds, data seed, batch, accumulation, workers), so
both see the same batches in the same order.

(a) ours: `train_dpo` with a progress callback as `train` passes one (its Ctrl-C guard, the
    checkpoint written at the end of the run, adapter and merged model written at the end).
(b) plain: `DPOTrainer(...).train()` (no checkpoints: `save_strategy="no"`) then the adapter
    saved and merged the same way; a callback only notes when each step ends (and the CPU
    time then), as ours's progress callback does.

Prints steps/s and tokens/s of the training loop (TRL's own `train_runtime`, so model loading
is outside it, but our end-of-run checkpoint is inside it), the seconds of each step, the
seconds after the last step (our checkpoint), the wall time of each side and the load average;
the process's CPU seconds a step after the first (`cpu_per_step`: blind to the time the
process waits for a CPU while other work, or the hypervisor, has it); per round the ratio
ours / plain of steps/s, the same without our checkpoint (loop to the last step) and by CPU
seconds a step; then their medians. Our overhead target is <= 5% on steps/s. Before the
rounds, each side runs once, untimed, on `--warmup-pairs` pairs (default 2, 0: none), so that
round 1's first side (ours) does not pay the process's one-time costs.

`--round-pairs N` (0: off): after the comparison, `train_dpo` alone end to end (wall time with
loading and writing the model; `train`'s default settings, checkpoint every 25 steps) on N
pairs: every ordered pair (i, j), i != j, of each sample prompt's responses (chosen response
i, rejected response j; prompts in file order, then i, then j; 114 in all, cycled if N is
more), the first N.
Run: `python benchmarks/train.py [--help]` (needs the `[train]` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import Run

from dpo_tui.core.models import Message
from dpo_tui.core.training import TrainSettings
from dpo_tui.generation.hf_scorer import import_extra
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.training import (
    Preference,
    TrainProgress,
    preference_records,
    prepare_base,
    resolve_device,
    train_dpo,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "candidates_handwritten.jsonl"


def samples() -> list[dict[str, Any]]:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def records(folder: Path, count: int) -> list[dict[str, str]]:
    """The first `count` prompts, chosen = second response, rejected = first, rendered as
    `train` renders them (`preference_records`)."""
    return preference_records(
        folder,
        [
            ((Message(role="user", content=s["prompt"]),), s["responses"][1], s["responses"][0])
            for s in samples()[:count]
        ],
    )


def round_records(folder: Path, count: int) -> list[dict[str, str]]:
    """`count` pairs from every ordered response pair (i, j), i != j, of each sample prompt
    (prompts in file order, then i, then j), cycled when `count` is more."""
    every: list[Preference] = [
        ((Message(role="user", content=s["prompt"]),), s["responses"][i], s["responses"][j])
        for s in samples()
        for i in range(len(s["responses"]))
        for j in range(len(s["responses"]))
        if i != j
    ]
    return preference_records(folder, [every[k % len(every)] for k in range(count)])


def tokens_of(folder: Path, data: list[dict[str, str]]) -> int:
    """Tokens a pass over `data` feeds the model: prompt twice, chosen and rejected."""
    tokenizer = import_extra("transformers").AutoTokenizer.from_pretrained(
        folder, local_files_only=True
    )
    count = 0
    for record in data:
        prompt = len(tokenizer(record["prompt"]).input_ids)
        count += 2 * prompt + len(tokenizer(record["chosen"]).input_ids)
        count += len(tokenizer(record["rejected"]).input_ids)
    return count


def ours(
    folder: Path, data: list[dict[str, str]], out: Path, settings: TrainSettings
) -> dict[str, Any]:
    ends: list[float] = []  # seconds from the start of the loop to the end of each step
    cpu: list[float] = []  # the process's CPU seconds at the end of each step

    def on_progress(progress: TrainProgress) -> None:  # what `train` passes, minus the display
        ends.append(progress.seconds)
        cpu.append(time.process_time())

    started = time.perf_counter()
    outcome = train_dpo(folder, data, out, settings, on_progress)
    wall = time.perf_counter() - started
    runtime = float(outcome.metrics["train_runtime"])
    return {"steps": outcome.step, "runtime": runtime, "wall": wall, "ends": ends, "cpu": cpu}


def _clock(transformers: Any, ends: list[float], cpu: list[float]) -> Any:
    """Measurement only: notes when each step ends (logged) and the CPU time then, as `ours`
    does."""

    class Clock(transformers.TrainerCallback):  # type: ignore[misc]
        started = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.started = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if logs and "loss" in logs:
                ends.append(time.perf_counter() - self.started)
                cpu.append(time.process_time())

    return Clock()


def plain(
    folder: Path, data: list[dict[str, str]], out: Path, settings: TrainSettings
) -> dict[str, Any]:
    """What a user would write with TRL's documentation: the same configuration."""
    torch, transformers = import_extra("torch"), import_extra("transformers")
    trl, peft, datasets = import_extra("trl"), import_extra("peft"), import_extra("datasets")
    device = resolve_device(settings.device)
    ends: list[float] = []
    cpu: list[float] = []
    started = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(
        folder, local_files_only=True, dtype=torch.float32
    )
    config = trl.DPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=1,
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        beta=settings.beta,
        max_length=settings.max_length,
        precompute_ref_log_probs=True,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=device == "cpu",
        bf16=device == "cuda" and bool(torch.cuda.is_bf16_supported()),
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        seed=settings.seed,
        data_seed=settings.seed,
        disable_tqdm=True,
    )
    lora = peft.LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.lora_targets,
        task_type="CAUSAL_LM",
    )
    trainer = trl.DPOTrainer(
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(data),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[_clock(transformers, ends, cpu)],
    )
    result = trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    merged = trainer.model.merge_and_unload()
    merged.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    wall = time.perf_counter() - started
    steps = int(trainer.state.global_step)
    runtime = float(result.metrics["train_runtime"])
    return {"steps": steps, "runtime": runtime, "wall": wall, "ends": ends, "cpu": cpu}


def loop(side: dict[str, Any]) -> float:
    """Seconds from the start of the training loop to the end of its last step."""
    return float(side["ends"][-1]) if side["ends"] else float(side["runtime"])


def cpu_per_step(side: dict[str, Any]) -> float | None:
    """CPU seconds of the process (all threads) a step from the end of the first step to the
    end of the last (None with one step): unlike wall time, blind to the time the process
    waits for a CPU while other work has it."""
    cpu = side["cpu"]
    return (cpu[-1] - cpu[0]) / (len(cpu) - 1) if len(cpu) > 1 else None


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def compare(bench: Run, folder: Path, pairs: int, rounds: int, warmup: int, device: str) -> None:
    """ours against plain, `rounds` times, which side goes first alternating, after each side
    once on `warmup` pairs, untimed."""
    data = records(folder, pairs)
    tokens = tokens_of(folder, data)
    settings = TrainSettings(device=device, save_steps=10_000)
    print(
        f"{len(data)} pairs, {tokens} tokens a pass, batch {settings.batch_size}, LoRA, "
        f"device {resolve_device(device)}, {load()}"
    )
    if warmup > 0:
        # the first training in the process pays one-time costs (and round 1 would put them
        # on ours, which goes first there)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as temporary:
            ours(folder, records(folder, warmup), Path(temporary) / "ours", settings)
            plain(folder, records(folder, warmup), Path(temporary) / "plain", settings)
        print(f"warm-up on {warmup} pairs, untimed: {time.perf_counter() - started:.0f} s")
    ratios: list[float] = []
    loop_ratios: list[float] = []
    cpu_ratios: list[float] = []
    rates: dict[str, list[float]] = {"ours": [], "plain": []}
    after: list[float] = []
    for round_number in range(1, rounds + 1):
        with tempfile.TemporaryDirectory() as temporary:  # alternating which side goes first
            if round_number % 2:
                a = ours(folder, data, Path(temporary) / "ours", settings)
                b = plain(folder, data, Path(temporary) / "plain", settings)
            else:
                b = plain(folder, data, Path(temporary) / "plain", settings)
                a = ours(folder, data, Path(temporary) / "ours", settings)
        for name, side in (("ours", a), ("plain", b)):
            rate = side["steps"] / side["runtime"]
            rates[name].append(rate)
            ends = side["ends"]
            steps = [end - start for start, end in zip([0.0, *ends], ends, strict=False)]
            first = (name == "ours") == bool(round_number % 2)
            cpu = cpu_per_step(side)
            print(
                f"round {round_number} {name} ({'first' if first else 'second'}): "
                f"{side['steps']} steps, {rate:.4f} steps/s, "
                f"{tokens / side['runtime']:.0f} tokens/s, loop to last step {loop(side):.1f} s, "
                f"after it {side['runtime'] - loop(side):.1f} s, wall {side['wall']:.1f} s"
            )
            print(
                f"  step seconds: {' '.join(f'{s:.1f}' for s in steps)}; CPU seconds a step "
                f"after the first: {'-' if cpu is None else f'{cpu:.1f}'}"
            )
        after.append(a["runtime"] - loop(a))
        ratios.append(rates["ours"][-1] / rates["plain"][-1])
        loop_ratios.append((a["steps"] / loop(a)) / (b["steps"] / loop(b)))
        cpu_a, cpu_b = cpu_per_step(a), cpu_per_step(b)
        if cpu_a is not None and cpu_b is not None:
            cpu_ratios.append(cpu_b / cpu_a)
        cpu_text = f", by CPU time {cpu_ratios[-1]:.3f}" if len(cpu_ratios) == round_number else ""
        print(
            f"round {round_number}: ours / plain steps/s = {ratios[-1]:.3f} "
            f"(without our end-of-run checkpoint {loop_ratios[-1]:.3f}{cpu_text}), {load()}"
        )
    ratio = statistics.median(ratios)
    loop_ratio = statistics.median(loop_ratios)
    print(
        f"median: ours / plain = {ratio:.3f} (overhead {100 * (1 - ratio):+.1f}%, target <= 5%); "
        f"without our checkpoint {loop_ratio:.3f} (overhead {100 * (1 - loop_ratio):+.1f}%)"
    )
    bench.figure("ours_steps_per_second", statistics.median(rates["ours"]), "1/s", "higher")
    bench.figure("plain_steps_per_second", statistics.median(rates["plain"]), "1/s", "higher")
    bench.figure("ratio", ratio, "x", "higher")
    bench.figure("ratio_without_checkpoint", loop_ratio, "x", "higher")
    bench.figure("ours_checkpoint_seconds", statistics.median(after), "s", "lower")
    if cpu_ratios:
        cpu_ratio = statistics.median(cpu_ratios)
        print(
            f"median by CPU seconds a step (steps after the first): ours / plain = "
            f"{cpu_ratio:.3f} (overhead {100 * (1 - cpu_ratio):+.1f}%)"
        )
        bench.figure("ratio_cpu", cpu_ratio, "x", "higher")


def round_run(bench: Run, folder: Path, count: int, device: str) -> None:
    """`train_dpo` alone, end to end, on a round of `count` pairs (`round_records`)."""
    data = round_records(folder, count)
    tokens = tokens_of(folder, data)
    settings = TrainSettings(device=device)
    print(f"round of {len(data)} pairs, {tokens} tokens a pass, {load()}")
    with tempfile.TemporaryDirectory() as temporary:
        side = ours(folder, data, Path(temporary) / "ours", settings)
    rate = side["steps"] / side["runtime"]
    print(
        f"round of {len(data)} pairs, ours: {side['steps']} steps, {rate:.4f} steps/s, "
        f"{tokens / side['runtime']:.0f} tokens/s (loop {side['runtime']:.1f} s), "
        f"wall {side['wall']:.1f} s, {load()}"
    )
    bench.figure("round_steps", side["steps"], "steps", "higher")
    bench.figure("round_steps_per_second", rate, "1/s", "higher")
    bench.figure("round_tokens_per_second", tokens / side["runtime"], "1/s", "higher")
    bench.figure("round_wall_seconds", side["wall"], "s", "lower")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warmup-pairs", type=int, default=2, help="0: no warm-up")
    parser.add_argument("--round-pairs", type=int, default=0, help="0: off")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = parser.parse_args()

    bench = Run("train")
    started = time.perf_counter()
    base = prepare_base(default_model_path())
    print(f"base ready in {time.perf_counter() - started:.0f} s ({base.folder})")
    compare(bench, base.folder, args.pairs, args.rounds, args.warmup_pairs, args.device)
    if args.round_pairs > 0:
        round_run(bench, base.folder, args.round_pairs, args.device)
    bench.save()


if __name__ == "__main__":
    main()
