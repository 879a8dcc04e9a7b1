"""Benchmark: LogprobScorer's tokens/s against llama-cpp-python evaluating the same tokens.

Pairs: the first N prompts of the hand-written sample candidates, chosen = their second
response, rejected = their first (about 40 + 130 + 40 tokens a pair in the default template).
Measured in one process, same model and threads, alternating, `--rounds` times:

(a) ours: `LogprobScorer.score(prompt, [chosen, rejected])` per pair: the prompt evaluated once,
    both responses decoded together with logits for every response token, log-softmaxed.
(b) baseline: llama-cpp-python's own `Llama(logits_all=True).eval` of the same tokens
    (prompt + chosen + rejected, one sequence per pair), logits for every token (kept in its
    numpy `scores`), nothing log-softmaxed.
(c) prompt processing: `Llama.eval` of 512 tokens with logits for the last one only, what
    `llama-bench -p 512` measures (161 tok/s at 2 threads on this project's machine).

tokens/s counts prompt + chosen + rejected tokens (not our alignment padding) for (a) and (b).
A token whose next-token distribution is needed costs a pass through the output layer
(640 x 262,144 for Gemma 3 270M, more weights than the rest of the model), so (a) and (b)
cannot reach (c); (a)/(b) says how close the scorer comes to llama.cpp's own speed on the work.
Run: `python benchmarks/eval.py [--help]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from harness import Run

from dpo_tui.core.models import Message
from dpo_tui.generation.logprob import LogprobScorer
from dpo_tui.generation.native import apply_to_llama_class
from dpo_tui.generation.runtime import default_threads, llama_cpp

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "candidates_handwritten.jsonl"
LLAMA_BENCH_PP512 = 161.0
"""llama-bench pp512 of the bundled model at 2 threads, measured on this project's machine."""

Pair = tuple[list[Message], str, str]


def sample_pairs(count: int) -> list[Pair]:
    pairs = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:count]:
        record = json.loads(line)
        chosen, rejected = record["responses"][1], record["responses"][0]
        pairs.append(([Message(role="user", content=record["prompt"])], chosen, rejected))
    return pairs


def ours(scorer: LogprobScorer, pairs: list[Pair]) -> float:
    """(a): seconds to score every pair."""
    started = time.perf_counter()
    for messages, chosen, rejected in pairs:
        scorer.score(messages, [chosen, rejected])
    return time.perf_counter() - started


def baseline(llm: llama_cpp.Llama, sequences: list[list[int]]) -> float:
    """(b): seconds for llama-cpp-python to evaluate the same tokens, logits for all."""
    started = time.perf_counter()
    for tokens in sequences:
        llm.reset()
        llm.eval(tokens)
    return time.perf_counter() - started


def prompt_processing(llm: llama_cpp.Llama, tokens: list[int]) -> float:
    """(c): seconds to evaluate `tokens` with the last token's logits only."""
    started = time.perf_counter()
    llm.reset()
    llm.eval(tokens)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a .gguf file (default: the bundled Gemma 3 270M)")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternate (a), (b), (c) this often")
    args = parser.parse_args()
    bench = Run("eval")

    scorer = LogprobScorer(args.model, n_threads=args.threads, n_ctx=2048)
    pairs = sample_pairs(args.pairs)
    sequences = []
    for messages, chosen, rejected in pairs:
        prompt, (chosen_tokens, rejected_tokens) = scorer.encode(messages, [chosen, rejected])
        sequences.append(prompt + chosen_tokens + rejected_tokens)
    tokens = sum(map(len, sequences))
    common = {"n_threads": args.threads, "n_threads_batch": args.threads, "verbose": False}
    apply_to_llama_class()  # the baselines load as the scorer does (safe on AMX CPUs)
    all_logits = llama_cpp.Llama(
        str(scorer.model_path),
        n_ctx=max(map(len, sequences)),
        n_batch=512,
        logits_all=True,
        **common,  # type: ignore[arg-type]
    )
    last_only = llama_cpp.Llama(str(scorer.model_path), n_ctx=512, n_batch=512, **common)  # type: ignore[arg-type]
    pp_tokens = [int(t) for t in np.random.default_rng(0).integers(1000, 30000, 512)]
    print(
        f"model {scorer.model_name}, {len(pairs)} pairs, {tokens} tokens (prompt + chosen + "
        f"rejected), {args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    ours(scorer, pairs[:1])  # warm up
    rates: dict[str, list[float]] = {"ours": [], "baseline": [], "pp512": []}
    for round_number in range(1, args.rounds + 1):
        a = tokens / ours(scorer, pairs)
        b = tokens / baseline(all_logits, sequences)
        c = 512 / prompt_processing(last_only, pp_tokens)
        for name, rate in zip(rates, (a, b, c), strict=True):
            rates[name].append(rate)
        print(
            f"round {round_number}: (a) ours {a:6.1f} tok/s   (b) llama-cpp-python eval, all "
            f"logits {b:6.1f} tok/s   (c) pp512 {c:6.1f} tok/s   (a)/(b) {a / b:.2f}"
        )
    a, b, c = (statistics.median(values) for values in rates.values())
    print(
        f"median: (a) {a:.1f} tok/s, (b) {b:.1f} tok/s, (c) {c:.1f} tok/s\n"
        f"ours / llama-cpp-python on the same tokens (b): {a / b:.2f}\n"
        f"ours / in-run prompt processing (c): {a / c:.2f}; "
        f"ours / llama-bench pp512 reference {LLAMA_BENCH_PP512:.0f} tok/s: "
        f"{a / LLAMA_BENCH_PP512:.2f} (target 0.80)"
    )
    bench.figure("ours", a, "tok/s", "higher")
    bench.figure("baseline (llama-cpp-python eval, all logits)", b, "tok/s", "higher")
    bench.figure("pp512 (in run)", c, "tok/s", "higher")
    bench.figure("ours / baseline", a / b, "x", "higher")
    bench.figure("ours / pp512 (in run)", a / c, "x", "higher")
    bench.figure("ours / llama-bench pp512 reference", a / LLAMA_BENCH_PP512, "x", "higher")
    all_logits.close()
    last_only.close()
    scorer.close()
    bench.save()


if __name__ == "__main__":
    main()
