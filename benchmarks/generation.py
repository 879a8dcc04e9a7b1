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

Anchor (unless `--no-anchor`; not with `--repack-ab`): llama.cpp's own `llama-batched-bench`
on the same model, threads, context, batch size and extra buffer types, one shared prompt of
the same token count (`-pps`, unified KV cache as `LlamaBackend` keeps it), the candidates as
parallel sequences (`-npl`) of max_tokens each (`-ntg`). It decodes random tokens and samples
nothing, so its S_TG (generation only) is the ceiling for (b)'s decoding; (b)'s tokens/s is
printed as a share of it, and of its generated tokens over its whole time (prompt included).
The tool is built once per llama-cpp-python version from the llama.cpp that version vendors
and cached (see `llama_tools.py`); `--llama-tools DIR` or `DPO_TUI_LLAMA_TOOLS` names a
folder holding one instead. If it cannot be built, the benchmark says why and goes on.
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

from harness import Run
from llama_tools import ToolUnavailable, batched_bench, llama_batched_bench

from dpo_tui.core.decoding import DEFAULT_PRESETS, DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.generation.native import apply_to_llama_class, choose_repack
from dpo_tui.generation.runtime import default_threads, llama_cpp

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "support_tickets.jsonl"
TICKETS = (3, 11)
"""Two tickets of the sample file: together, about 190 tokens in the default template."""


@dataclass
class Timed:
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


def naive(llm: llama_cpp.Llama, prompt: str, presets: list[DecodingPreset]) -> Timed:
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
    return Timed(time.perf_counter() - started, tokens, first_token)


def batched(backend: LlamaBackend, presets: list[DecodingPreset]) -> Timed:
    """(b): LlamaBackend.generate, all candidates at once."""
    started = time.perf_counter()
    candidates = backend.generate(prompt_messages(), presets)
    return Timed(
        time.perf_counter() - started,
        sum(candidate.token_count for candidate in candidates),
        [candidate.first_token_seconds for candidate in candidates],
    )


def show(name: str, run: Timed) -> None:
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


def repack_ab(args: argparse.Namespace, bench: Run) -> None:
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
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}:")
        runs = {}
        for repack, backend in backends.items():
            runs[repack] = batched(backend, presets)
            rates[repack].append(runs[repack].tokens_per_second)
            show(f"repack {repack}", runs[repack])
        ratios.append(runs["on"].tokens_per_second / runs["off"].tokens_per_second)
        print(f"  repack on / off: {ratios[-1]:.2f}x in tokens/s")
    if args.rounds > 1:
        print(f"median ratio on/off: {statistics.median(ratios):.2f}x")
    for backend in backends.values():
        backend.close()
    for repack, values in rates.items():
        bench.figure(f"repack {repack}", statistics.median(values), "tok/s", "higher")
    bench.figure("repack on / off", statistics.median(ratios), "x", "higher")


def anchor(
    args: argparse.Namespace, backend: LlamaBackend, prompt_tokens: int, ours: float, bench: Run
) -> None:
    """llama-batched-bench on the same work as (b); `ours`: (b)'s median tokens/s."""
    print("anchor: llama.cpp's llama-batched-bench, same model, threads, batch and tokens")
    try:
        tool = llama_batched_bench(args.llama_tools)
        if tool.build_seconds is not None:
            print(f"  built in {tool.build_seconds:.0f} s: {tool.path}")
        else:
            print(f"  {tool.how}: {tool.path}")
        result, command = batched_bench(
            tool.path,
            backend.model_path,
            threads=args.threads,
            prompt_tokens=prompt_tokens,
            new_tokens=args.max_tokens,
            sequences=args.candidates,
            n_ctx=max(backend.n_ctx, prompt_tokens + args.candidates * args.max_tokens),
            n_batch=backend.n_batch,
            extra_buffers=choose_repack().extra_buffers,
        )
    except ToolUnavailable as error:
        print(f"  skipped, no anchor: {error}")
        return
    print(f"  {' '.join(Path(part).name if '/' in part else part for part in command)}")
    print(
        f"  PP {result.pp}, TG {result.tg}, B {result.pl}: prompt {result.t_pp:.3f} s "
        f"(S_PP {result.speed_pp:.1f} t/s), generation {result.t_tg:.2f} s "
        f"(S_TG {result.speed_tg:.1f} t/s), total {result.t:.2f} s (S {result.speed:.1f} t/s; "
        f"generated tokens / total: {result.generated_per_second:.1f} t/s)"
    )
    print(
        f"  batched {ours:.1f} tok/s = {ours / result.speed_tg:.2f} of llama-batched-bench's "
        f"S_TG, {ours / result.generated_per_second:.2f} of its generated tokens / total time"
    )
    bench.figure("llama-batched-bench S_TG", result.speed_tg, "tok/s", "higher")
    bench.figure("llama-batched-bench S", result.speed, "tok/s", "higher")
    bench.figure(
        "llama-batched-bench generated / T", result.generated_per_second, "tok/s", "higher"
    )
    bench.figure("batched / llama-batched-bench S_TG", ours / result.speed_tg, "x", "higher")
    bench.figure(
        "batched / llama-batched-bench generated / T",
        ours / result.generated_per_second,
        "x",
        "higher",
    )


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
    parser.add_argument(
        "--no-anchor", action="store_true", help="skip the llama-batched-bench anchor"
    )
    parser.add_argument(
        "--llama-tools",
        type=Path,
        metavar="DIR",
        help="a folder holding llama-batched-bench (default: $DPO_TUI_LLAMA_TOOLS, else built "
        "once into ~/.cache/dpo-tui/llama-tools/VERSION/)",
    )
    args = parser.parse_args()
    if args.repack_ab:
        bench = Run("generation_repack_ab")
        repack_ab(args, bench)
        bench.save()
        return

    bench = Run("generation")
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
    rates: dict[str, list[float]] = {"naive": [], "batched": []}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}:")
        a = naive(llm, prompt, presets)
        show("naive", a)
        b = batched(backend, presets)
        show("batched", b)
        ratios.append(a.seconds / b.seconds)
        rates["naive"].append(a.tokens_per_second)
        rates["batched"].append(b.tokens_per_second)
        print(
            f"  batched is {ratios[-1]:.2f}x faster end to end, "
            f"{b.tokens_per_second / a.tokens_per_second:.2f}x in tokens/s"
        )
    if args.rounds > 1:
        print(f"median end-to-end ratio: {statistics.median(ratios):.2f}x")
    llm.close()
    naive_rate, batched_rate = (statistics.median(values) for values in rates.values())
    bench.figure("naive", naive_rate, "tok/s", "higher")
    bench.figure("batched", batched_rate, "tok/s", "higher")
    bench.figure("batched / naive, end to end", statistics.median(ratios), "x", "higher")
    backend.close()  # its settings stay readable; the anchor runs alone
    if not args.no_anchor:
        anchor(args, backend, prompt_tokens, batched_rate, bench)
    bench.save()


if __name__ == "__main__":
    main()
