"""LlamaBackend with the real bundled model (Gemma 3 270M): few prompts, few tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dpo_tui.core.decoding import DecodingPreset, presets_for
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.llama import LlamaBackend, _shared_prefix
from dpo_tui.generation.runtime import llama_cpp

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
QUESTION = [Message(role="user", content="How do I reset my password?")]


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaBackend]:
    with LlamaBackend(n_ctx=2048) as model:
        yield model


def preset(name: str = "p", **values: object) -> DecodingPreset:
    return DecodingPreset(name=name, **{"temperature": 0.8, "max_tokens": 12, **values})


def test_is_a_backend_for_the_bundled_model(backend: LlamaBackend):
    assert backend.model_name == "gemma-3-270m-q4_k_m"
    assert backend.origin.startswith("gguf:") and len(backend.origin) == 5 + 64
    # the bundled model is a base model: no chat template in its metadata
    assert backend.template.source == "default"
    prompt = backend.format_prompt(QUESTION)
    assert prompt.endswith("Question: How do I reset my password?\n\nAnswer:")


def test_one_candidate_per_preset_in_order(backend: LlamaBackend):
    presets = [preset("a", seed=1), preset("b", temperature=0.0), preset("c", seed=3, top_k=20)]
    candidates = backend.generate(QUESTION, presets)
    assert [c.slot for c in candidates] == [0, 1, 2]
    assert [c.preset for c in candidates] == presets
    for candidate in candidates:
        assert candidate.text
        assert 1 <= candidate.token_count <= 12
        assert candidate.finish_reason in ("stop", "length", "eog")
        assert 0 < candidate.first_token_seconds <= candidate.seconds


def test_same_presets_give_the_same_texts(backend: LlamaBackend):
    presets = presets_for(3, "reproducible", max_tokens=12)
    first = [c.text for c in backend.generate(QUESTION, presets)]
    again = [c.text for c in backend.generate(QUESTION, presets)]
    assert first == again


def test_different_seeds_give_different_texts(backend: LlamaBackend):
    presets = [preset(seed=seed, temperature=1.0) for seed in (1, 2, 3, 4)]
    texts = [c.text for c in backend.generate(QUESTION, presets)]
    assert len(set(texts)) > 1


def test_max_tokens_ends_with_length(backend: LlamaBackend):
    [candidate] = backend.generate(QUESTION, [preset(temperature=0.0, max_tokens=5)])
    assert candidate.finish_reason == "length"
    assert candidate.token_count == 5


def test_stop_string_cuts_the_text(backend: LlamaBackend):
    greedy = preset(temperature=0.0, max_tokens=16)
    [free] = backend.generate(QUESTION, [greedy])
    word = free.text.split()[2]
    stop = greedy.model_copy(update={"stop": (f" {word}",)})
    [cut] = backend.generate(QUESTION, [stop])
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.index(f" {word}")].rstrip()
    assert word not in cut.text.split()


def test_streamed_pieces_add_up_to_each_text(backend: LlamaBackend):
    pieces: dict[int, list[str]] = {}
    presets = presets_for(4, "stream", max_tokens=16)
    candidates = backend.generate(
        QUESTION, presets, lambda slot, piece: pieces.setdefault(slot, []).append(piece)
    )
    for candidate in candidates:
        assert "".join(pieces[candidate.slot]) == candidate.text
        assert all(pieces[candidate.slot])


def test_prompt_over_the_context_is_refused_before_decoding(backend: LlamaBackend):
    presets = [preset(max_tokens=600, seed=i) for i in range(4)]
    with pytest.raises(GenerationError) as error:
        backend.generate(QUESTION, presets)
    message = str(error.value)
    prompt_tokens = len(backend.tokenize(backend.format_prompt(QUESTION)))
    assert f"the prompts take {prompt_tokens} tokens" in message
    assert "2400 more" in message
    assert f"context of {backend.n_ctx} tokens" in message
    long = [Message(role="user", content="word " * 3000)]
    with pytest.raises(GenerationError, match=r"over the context of 2048 tokens"):
        backend.generate(long, [preset()])
    assert backend.generate(QUESTION, [preset()])[0].text  # still usable


def test_conversation_must_end_with_a_user_turn(backend: LlamaBackend):
    turns = [*QUESTION, Message(role="assistant", content="Click 'Forgot password'.")]
    with pytest.raises(GenerationError, match="must end with a user turn"):
        backend.generate(turns, [preset()])
    with pytest.raises(GenerationError, match="1 to 16"):
        backend.generate(QUESTION, [])


@pytest.mark.slow
def test_sample_prompts_get_answers(backend: LlamaBackend):
    ticket = json.loads((SAMPLES / "support_tickets.jsonl").read_text().splitlines()[0])
    writing = (SAMPLES / "writing_help.txt").read_text().splitlines()[0]
    conversation = json.loads((SAMPLES / "conversations.jsonl").read_text().splitlines()[0])
    prompts = [
        [Message(role="user", content=ticket["prompt"])],
        [Message(role="user", content=writing)],
        [Message(**turn) for turn in conversation["messages"]],
    ]
    for number, messages in enumerate(prompts):
        candidates = backend.generate(messages, presets_for(3, f"sample{number}", max_tokens=24))
        assert all(c.text.strip() for c in candidates), [c.text for c in candidates]


@pytest.mark.slow
def test_custom_template_and_close():
    template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:"
    backend = LlamaBackend(n_ctx=512, n_threads=1, prompt_template=template, stop=["\nuser:"])
    assert backend.template.source == "custom"
    assert backend.format_prompt(QUESTION) == "user: How do I reset my password?\nassistant:"
    [candidate] = backend.generate(QUESTION, [preset(max_tokens=4)])
    assert candidate.token_count <= 4
    backend.close()
    backend.close()
    with pytest.raises(GenerationError, match="closed"):
        backend.generate(QUESTION, [preset()])


RUBRIC_START = "You judge answers about accounts. Be strict and brief. " * 8


def first_logits(backend: LlamaBackend, conversations: list[list[Message]]) -> list[np.ndarray]:
    """The next-token logits after each conversation, evaluated together as `answer` does."""
    texts = [backend.format_prompt(c) for c in conversations]
    tokens = {text: backend.tokenize(text) for text in dict.fromkeys(texts)}
    leader = {text: texts.index(text) for text in tokens}
    at = backend._decode_prompts(tokens, leader, _shared_prefix(list(tokens.values())))
    logits = [llama_cpp.llama_get_logits_ith(backend._ctx, at[text]) for text in texts]
    return [np.ctypeslib.as_array(row, (backend._n_vocab,)).copy() for row in logits]


CLOSE = 2.0
"""The most two evaluations of one context may differ by in a logit: llama.cpp's sums differ
with the batch's make-up (measured up to 1.1 here); another context differs by about 7."""


def ask(about: str, answers: list[str]) -> list[list[Message]]:
    return [
        [Message(role="user", content=f"{RUBRIC_START}\nQuestion: {about}\nAnswer: {answer}")]
        for answer in answers
    ]


def test_answers_share_their_start_and_match_a_fresh_model(backend: LlamaBackend, monkeypatch):
    """Conversations sharing a start, and a call sharing the last call's start, are evaluated
    once, and start from what a fresh model evaluating everything gives."""
    first = ask("How do I reset my password?", ["Use the link.", "Call us.", "Use the link."])
    second = ask("How do I close my account?", ["In settings.", "Write to us."])
    greedy = preset(temperature=0.0, max_tokens=10)
    backend.answer(first, [greedy] * 3)
    evaluated: list[int] = []
    decode = backend._decode

    def counted(entries: list[tuple[int, int, int, bool]]) -> None:
        evaluated.append(len(entries))
        decode(entries)

    monkeypatch.setattr(backend, "_decode", counted)
    reused = backend.answer(second, [greedy] * 2)
    prompts = [backend.tokenize(backend.format_prompt(c)) for c in second]
    steps = sum(answer.token_count for answer in reused)
    assert sum(evaluated) - steps < len(prompts[0]) // 2  # the rubric was not evaluated again
    with LlamaBackend(n_ctx=2048) as fresh:
        for mine, theirs in zip(
            first_logits(backend, second), first_logits(fresh, second), strict=True
        ):
            assert np.abs(mine - theirs).max() < CLOSE


def test_answers_follow_the_json_schema(backend: LlamaBackend):
    schema = {
        "type": "object",
        "properties": {"score": {"type": "integer", "enum": [1, 2, 3]}},
        "required": ["score"],
        "additionalProperties": False,
    }
    questions = ask("Is 2+2=4?", ["Yes.", "No, 5.", "Maybe."])
    presets = [preset(temperature=t, max_tokens=16, seed=i) for i, t in enumerate((0, 1, 1.5))]
    for answer in backend.answer(questions, presets, schema):
        assert json.loads(answer.text)["score"] in (1, 2, 3), answer.text


def test_conversations_of_several_questions_share_each_questions_start(
    backend: LlamaBackend, monkeypatch
):
    """Two questions with two answers each, in one call: each question's text is evaluated
    once for its answers, and each answer starts from what one call per question gives."""
    question = "How do I reset my password? I have tried the link twice and it expired."
    first = ask(question, ["Use the link.", "Call us."])
    second = ask("How do I close my account?", ["In settings.", "Write to us."])
    greedy = preset(temperature=0.0, max_tokens=8)
    alone = first_logits(backend, first) + first_logits(backend, second)
    backend.answer(ask("Unrelated", ["x"]), [greedy])  # the cache no longer holds a question
    evaluated: list[tuple[int, int, int, bool]] = []
    decode = backend._decode

    def counted(entries: list[tuple[int, int, int, bool]]) -> None:
        evaluated.extend(entries)
        decode(entries)

    monkeypatch.setattr(backend, "_decode", counted)
    backend.answer([*first, *second], [greedy] * 4)
    p0, p1, p2 = (backend.tokenize(backend.format_prompt(c)) for c in (*first, second[0]))
    question_start = next(i for i, (a, b) in enumerate(zip(p0, p1, strict=False)) if a != b)
    shared = next(i for i, (a, b) in enumerate(zip(p0, p2, strict=False)) if a != b)
    assert question_start > shared + 16
    own = [e for e in evaluated if e[2] == 1 and not e[3]]  # sequence 1, before answering
    assert len(own) == len(p1) - 1 - question_start  # its question came from sequence 0
    for mine, theirs in zip(first_logits(backend, [*first, *second]), alone, strict=True):
        assert np.abs(mine - theirs).max() < CLOSE
