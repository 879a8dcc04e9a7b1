"""Benchmark: N candidates for one prompt, naive loop vs LlamaBackend's batched decoding.

(a) naive: llama-cpp-python's `Llama.create_completion` once per candidate, the cache reset in
    between, so the prompt is evaluated N times and the candidates are decoded one by one;
(b) `LlamaBackend.generate`: the prompt evaluated once, the N candidates decoded together.

Same model, prompt (two sample support tickets, about 190 tokens in the default template),
presets, threads and process (so the same OpenMP settings). The presets are the first N
defaults with seeds 2000 + slot: with these, on the bundled model, no candidate of either run
ends before max_tokens, so both make the same number of tokens (the counts are printed).
With `--repack-ab`, instead: `LlamaBackend.generate` with llama.cpp's extra CPU buffer types on
and off (`--repack on|off`, see `dpo_tui.generation.native`), alternated in one run, so a CPU's
gain from weight repacking is measured rather than assumed (on a CPU with AMX, `on` crashes:
the smoke check refuses it with a message).
Run: `python benchmarks/generation.py [--help]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.core.decoding import DEFAULT_PRESETS, DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.generation.native import apply_to_llama_class
from dpo_tui.generation.runtime import default_threads, llama_cpp

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "support_tickets.jsonl"
TICKETS = (3, 11)
"""Two tickets of the sample file: together, about 190 tokens in the default template."""


@dataclass
class Run:
    """One way of making the candidates: wall time, tokens, and when each candidate's first
    token came (seconds from the start of the run)."""

    seconds: float
    tokens: int
    first_token: list[float]

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds


def prompt_messages() -> list[Message]:
    """A user turn made of two sample tickets (about 190 tokens once templated)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    text = "\n\n".join(json.loads(lines[i])["prompt"] for i in TICKETS)
    return [Message(role="user", content=text)]


def naive(llm: llama_cpp.Llama, prompt: str, presets: list[DecodingPreset]) -> Run:
    """(a): one create_completion per candidate, the cache reset before each."""
    started = time.perf_counter()
    tokens = 0
    first_token: list[float] = []
    for preset in presets:
        llm.reset()
        seen: list[float] = []

        def first(*_: object, seen: list[float] = seen) -> bool:
            if not seen:
                seen.append(time.perf_counter())
            return False

        result = llm.create_completion(
            prompt,
            max_tokens=preset.max_tokens,
            temperature=preset.temperature,
            top_p=preset.top_p,
            min_p=preset.min_p,
            top_k=preset.top_k,
            repeat_penalty=preset.repeat_penalty,
            seed=preset.seed,
            stopping_criteria=llama_cpp.StoppingCriteriaList([first]),
        )
        tokens += result["usage"]["completion_tokens"]  # type: ignore[index]
        first_token.append(seen[0] - started)
    return Run(time.perf_counter() - started, tokens, first_token)


def batched(backend: LlamaBackend, presets: list[DecodingPreset]) -> Run:
    """(b): LlamaBackend.generate, all candidates at once."""
    started = time.perf_counter()
    candidates = backend.generate(prompt_messages(), presets)
    return Run(
        time.perf_counter() - started,
        sum(candidate.token_count for candidate in candidates),
        [candidate.first_token_seconds for candidate in candidates],
    )


def show(name: str, run: Run) -> None:
    print(
        f"  {name:<10} {run.seconds:6.2f} s  {run.tokens:4d} tokens  "
        f"{run.tokens_per_second:5.1f} tok/s  first token: first candidate "
        f"{run.first_token[0]:.2f} s, last {run.first_token[-1]:.2f} s"
    )


def bench_presets(count: int, max_tokens: int) -> list[DecodingPreset]:
    """The first `count` default presets with seeds 2000 + slot (see the module's doc)."""
    return [
        DEFAULT_PRESETS[slot % len(DEFAULT_PRESETS)].model_copy(
            update={"seed": 2000 + slot, "max_tokens": max_tokens}
        )
        for slot in range(count)
    ]


def repack_ab(args: argparse.Namespace) -> None:
    """Batched generation with extra buffer types on, then off, `args.rounds` times."""
    backends = {
        repack: LlamaBackend(args.model, n_threads=args.threads, stop=(), repack=repack)
        for repack in ("on", "off")
    }
    presets = bench_presets(args.candidates, args.max_tokens)
    print(
        f"repack on vs off: model {backends['on'].model_name}, {args.candidates} candidates x "
        f"{args.max_tokens} tokens, {args.threads} threads, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(f"llama.cpp: {llama_cpp.llama_print_system_info().decode()}")
    for backend in backends.values():
        batched(backend, presets[:1])  # warm up
    ratios = []
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}:")
        runs = {}
        for repack, backend in backends.items():
            runs[repack] = batched(backend, presets)
            show(f"repack {repack}", runs[repack])
        ratios.append(runs["on"].tokens_per_second / runs["off"].tokens_per_second)
        print(f"  repack on / off: {ratios[-1]:.2f}x in tokens/s")
    if args.rounds > 1:
        print(f"median ratio on/off: {statistics.median(ratios):.2f}x")
    for backend in backends.values():
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a .gguf file (default: the bundled Gemma 3 270M)")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1, help="alternate (a) and (b) this often")
    parser.add_argument(
        "--repack-ab", action="store_true", help="compare repack on and off instead"
    )
    args = parser.parse_args()
    if args.repack_ab:
        repack_ab(args)
        return

    backend = LlamaBackend(args.model, n_threads=args.threads, stop=())
    prompt = backend.format_prompt(prompt_messages())
    prompt_tokens = len(backend.tokenize(prompt))
    apply_to_llama_class()  # the baseline loads as LlamaBackend does (safe on AMX CPUs)
    llm = llama_cpp.Llama(
        str(backend.model_path),
        n_ctx=prompt_tokens + args.max_tokens + 1,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    presets = bench_presets(args.candidates, args.max_tokens)
    print(
        f"model {backend.model_name}, prompt {prompt_tokens} tokens, "
        f"{args.candidates} candidates x {args.max_tokens} tokens, {args.threads} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    warm_up = [presets[0].model_copy(update={"max_tokens": 4})]
    naive(llm, prompt, warm_up)
    batched(backend, warm_up)

    ratios = []
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}:")
        a = naive(llm, prompt, presets)
        show("naive", a)
        b = batched(backend, presets)
        show("batched", b)
        ratios.append(a.seconds / b.seconds)
        print(
            f"  batched is {ratios[-1]:.2f}x faster end to end, "
            f"{b.tokens_per_second / a.tokens_per_second:.2f}x in tokens/s"
        )
    if args.rounds > 1:
        print(f"median end-to-end ratio: {statistics.median(ratios):.2f}x")
    llm.close()
    backend.close()


if __name__ == "__main__":
    main()
