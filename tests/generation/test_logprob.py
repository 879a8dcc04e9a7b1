"""LogprobScorer with the real bundled model: agreement with a direct computation through
llama-cpp-python, batch invariance, the shuffled-words sanity check, tokenization, errors."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.generation.logprob import ALIGN, LogprobScorer
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.native import apply_to_llama_class
from dpo_tui.generation.runtime import llama_cpp

pytestmark = pytest.mark.slow
QUESTION = (Message(role="user", content="How do I reset my password?"),)
GOOD = "Go to Settings, choose Security, then Reset password, and follow the link we email you."
PAIRS = [
    ("How do I reset my password?", GOOD),
    (
        "Why was I charged twice this month?",
        "A payment that is retried shows twice; the duplicate is refunded within three days.",
    ),
    (
        "Can I change my shipping address after ordering?",
        "Yes: change it on the order page until the parcel has shipped.",
    ),
    ("What is the capital of France?", "The capital of France is Paris, its largest city."),
    ("How many days are in a week?", "A week has seven days, from Monday to Sunday."),
    (
        "How do I boil an egg?",
        "Put the egg in boiling water for nine minutes, then cool it in cold water.",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def llama_class_as_dpo_tui_loads() -> None:
    """The direct computation's Llama() loads as the scorer does (safe on AMX CPUs)."""
    apply_to_llama_class()


@pytest.fixture(scope="module")
def scorer() -> Iterator[LogprobScorer]:
    with LogprobScorer(n_ctx=1024) as model:
        yield model


def shuffled(text: str, seed: int) -> str:
    words = text.split()
    rng = random.Random(seed)
    while (order := rng.sample(words, len(words))) == words:
        pass
    return " ".join(order)


def direct_logprob(llm: llama_cpp.Llama, prompt: list[int], response: list[int]) -> float:
    """Sum over the response's tokens of log softmax(logits)[token], from llama-cpp-python's
    own evaluation with logits for every token, log-softmaxed in float64 with numpy.

    prompt + response is evaluated as one batch padded to a multiple of ALIGN tokens (the
    padding comes after, so causal attention keeps it out of every row used): llama.cpp's CPU
    kernels compute a batch's leftover rows differently (see `logprob`'s doc), and the scorer
    keeps every token out of such rows.
    """
    tokens = prompt + response
    llm.reset()
    llm.eval(tokens + [0] * (-len(tokens) % ALIGN))
    rows = llm.scores[: len(tokens)].astype(np.float64)
    peak = rows.max(axis=1, keepdims=True)
    log_softmax = rows - (peak + np.log(np.exp(rows - peak).sum(axis=1, keepdims=True)))
    return sum(log_softmax[i - 1, tokens[i]] for i in range(len(prompt), len(tokens)))


def test_agrees_with_a_direct_computation(scorer: LogprobScorer):
    responses = [GOOD, shuffled(GOOD, 1), "Click forgot password."]
    scored = scorer.score(QUESTION, responses)
    prompt, encoded = scorer.encode(QUESTION, responses)
    llm = llama_cpp.Llama(
        str(default_model_path()), n_ctx=256, n_batch=256, logits_all=True, verbose=False
    )
    try:
        for result, tokens in zip(scored, encoded, strict=True):
            assert result.tokens == len(tokens)
            assert result.logprob == pytest.approx(direct_logprob(llm, prompt, tokens), abs=1e-3)
    finally:
        llm.close()


def test_a_response_scores_the_same_alone_with_others_and_in_small_batches():
    long = " ".join([GOOD] * 3)  # several batches of 16
    responses = [GOOD, "Click forgot password.", long, shuffled(GOOD, 2), "Yes."]
    question = (Message(role="user", content="Please help. " * 8 + "How do I log in?"),)
    with LogprobScorer(n_ctx=1024, n_batch=32, max_logits=16) as small:
        prompt, _ = small.encode(question, responses)
        assert len(prompt) > 32  # the prompt takes several batches too
        together = small.score(question, responses)
        alone = [small.score(question, [r])[0] for r in responses]
    with LogprobScorer(n_ctx=1024) as large:
        default = large.score(question, responses)
    for results in (alone, default):
        assert [r.tokens for r in results] == [r.tokens for r in together]
        assert [r.logprob for r in results] == pytest.approx(
            [r.logprob for r in together], abs=1e-4
        )


def test_the_model_prefers_answers_to_their_shuffled_words(scorer: LogprobScorer):
    wins = 0
    for seed, (question, answer) in enumerate(PAIRS):
        chosen, rejected = scorer.score(
            [Message(role="user", content=question)], [answer, shuffled(answer, seed)]
        )
        assert chosen.tokens > 0 and rejected.tokens > 0
        wins += chosen.logprob > rejected.logprob
    assert wins >= len(PAIRS) - 1


def test_tokenization_follows_generation(scorer: LogprobScorer):
    with LlamaBackend(n_ctx=256) as backend:
        assert scorer.template.text == backend.template.text
        rendered = backend.format_prompt(QUESTION)
        prompt, [tokens, empty] = scorer.encode(QUESTION, [GOOD, ""])
        assert prompt == backend.tokenize(rendered)
        # the default template writes "Answer: <response>": the response starts with a space
        assert backend.token_bytes(tokens[0]) == b" Go"
        assert b"".join(backend.token_bytes(t) for t in tokens).decode() == " " + GOOD
    assert empty == []
    [result] = scorer.score(QUESTION, [""])
    assert (result.tokens, result.logprob, result.mean) == (0, 0.0, 0.0)


def test_clear_errors(scorer: LogprobScorer, tmp_path):
    with pytest.raises(GenerationError, match="must end with a user turn"):
        scorer.score([Message(role="assistant", content="hi")], [GOOD])
    with pytest.raises(GenerationError, match="do not fit in the context"):
        scorer.score(QUESTION, [" ".join([GOOD] * 60)])
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_text("not a model")
    with pytest.raises(GenerationError, match="not a GGUF model file"):
        LogprobScorer(not_gguf)
    with pytest.raises(GenerationError, match=f"multiples of {ALIGN}"):
        LogprobScorer(max_logits=10)
