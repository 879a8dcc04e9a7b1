"""Benchmark: `train`'s DPO training (our `generation.training.train_dpo`) against a plain TRL
script doing the same on the same data, in one process, `--rounds` times (which side goes
first alternates).

Data: the first `--pairs` hand-written sample prompts, chosen = their second response,
rejected = their first, rendered as `train` renders a round (`preference_records`).
Base: the bundled Gemma 3 270M, converted once by transformers and cached (`prepare_base`).
Both sides: LoRA (r 16, alpha 32, all linear projections), batch 2, one epoch, reference
log-probabilities precomputed, fp32 on the CPU (or `--device cuda`), the same DPOConfig.

(a) ours: `train_dpo` (its progress callback, Ctrl-C guard, checkpoint, adapter and merged
    model written at the end).
(b) plain: `DPOTrainer(...).train()` then the adapter saved and merged the same way.

Prints steps/s and tokens/s of the training loop (TRL's own `train_runtime`, so model loading
is outside it) and the wall time of each side; our overhead target is <= 5% on steps/s.
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
    preference_records,
    prepare_base,
    resolve_device,
    train_dpo,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "candidates_handwritten.jsonl"


def records(folder: Path, count: int) -> list[dict[str, str]]:
    """Preference records rendered as `train` renders them (`preference_records`)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:count]
    samples = [json.loads(line) for line in lines]
    return preference_records(
        folder,
        [
            ((Message(role="user", content=s["prompt"]),), s["responses"][1], s["responses"][0])
            for s in samples
        ],
    )


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
    started = time.perf_counter()
    outcome = train_dpo(folder, data, out, settings)
    wall = time.perf_counter() - started
    return {"steps": outcome.step, "runtime": float(outcome.metrics["train_runtime"]), "wall": wall}


def plain(
    folder: Path, data: list[dict[str, str]], out: Path, settings: TrainSettings
) -> dict[str, Any]:
    """What a user would write with TRL's documentation: the same configuration."""
    torch, transformers = import_extra("torch"), import_extra("transformers")
    trl, peft, datasets = import_extra("trl"), import_extra("peft"), import_extra("datasets")
    device = resolve_device(settings.device)
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
        seed=settings.seed,
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
    )
    result = trainer.train()
    trainer.model.save_pretrained(out / "adapter")
    merged = trainer.model.merge_and_unload()
    merged.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    wall = time.perf_counter() - started
    steps = int(trainer.state.global_step)
    return {"steps": steps, "runtime": float(result.metrics["train_runtime"]), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = parser.parse_args()

    bench = Run("train")
    started = time.perf_counter()
    base = prepare_base(default_model_path())
    print(f"base ready in {time.perf_counter() - started:.0f} s ({base.folder})")
    data = records(base.folder, args.pairs)
    tokens = tokens_of(base.folder, data)
    settings = TrainSettings(device=args.device, save_steps=10_000)
    print(
        f"{len(data)} pairs, {tokens} tokens a pass, batch {settings.batch_size}, LoRA, "
        f"device {resolve_device(args.device)}, load average {os.getloadavg()[0]:.2f}"
    )
    ratios, rates = [], {"ours": [], "plain": []}
    for round_number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as folder:  # alternating which side goes first
            if round_number % 2:
                a = ours(base.folder, data, Path(folder) / "ours", settings)
                b = plain(base.folder, data, Path(folder) / "plain", settings)
            else:
                b = plain(base.folder, data, Path(folder) / "plain", settings)
                a = ours(base.folder, data, Path(folder) / "ours", settings)
        for name, side in (("ours", a), ("plain", b)):
            rate = side["steps"] / side["runtime"]
            rates[name].append(rate)
            print(
                f"round {round_number} {name}: {side['steps']} steps, {rate:.3f} steps/s, "
                f"{tokens / side['runtime']:.0f} tokens/s, wall {side['wall']:.1f} s"
            )
        ratios.append(rates["ours"][-1] / rates["plain"][-1])
        print(f"round {round_number}: ours / plain steps/s = {ratios[-1]:.3f}")
    ratio = statistics.median(ratios)
    print(f"median: ours / plain = {ratio:.3f} (overhead {100 * (1 - ratio):+.1f}%, target <= 5%)")
    bench.figure("ours_steps_per_second", statistics.median(rates["ours"]), "1/s", "higher")
    bench.figure("plain_steps_per_second", statistics.median(rates["plain"]), "1/s", "higher")
    bench.figure("ratio", ratio, "x", "higher")
    bench.save()


if __name__ == "__main__":
    main()
