"""Judging a project: the real bundled model through llama.cpp for the mechanics (constrained
answers, samples, verdicts in both orders, resumption), and a scripted OpenAI-compatible
server for what a real model will not do on cue (invalid answers, interruptions)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.ids import candidate_id
from dpo_tui.core.judging import VERDICT_SCHEMA, is_judge, read_verdict, verdict_question
from dpo_tui.core.models import Candidate
from dpo_tui.core.scoring import total
from dpo_tui.generation.llama import LlamaBackend
from dpo_tui.generation.models import default_model_path, model_sha256
from dpo_tui.generation.openai import OpenAIBackend
from dpo_tui.services.generating import messages_of
from dpo_tui.services.judging import JudgeProgress, judge_project
from dpo_tui.services.pairing import collect_pairs
from dpo_tui.store.project import ProjectStore
from tests.openai_fake import FakeServer, Reply, stream

Fake = Callable[[Callable[[dict, int], Reply]], FakeServer]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaBackend]:
    with LlamaBackend() as backend:
        yield backend


def samples(store: ProjectStore) -> list[dict[str, object]]:
    rows = store.db.execute(
        "select candidate_id, sample, attempt, criteria, reasons, reply, error, params "
        "from judge_samples order by id"
    )
    keys = ("candidate", "sample", "attempt", "card", "reasons", "reply", "error", "params")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def judge_scores(store: ProjectStore) -> dict[str, dict[str, int]]:
    query = "select candidate_id, criteria from scores where annotator like 'judge:%'"
    return {cid: json.loads(card) for cid, card in store.db.execute(query)}


@pytest.mark.slow
def test_the_bundled_model_scores_every_candidate_on_the_scale(scored_project, llama):
    store = scored_project
    result = judge_project(store, llama)
    sha = model_sha256(default_model_path())
    assert result.judge == f"judge:{default_model_path().stem}@{sha[:12]}"
    assert result.total_prompts == result.done_prompts == 2
    candidates = store.candidate_prompt_ids()
    rows = samples(store)
    assert {row["candidate"] for row in rows if row["card"]} | {
        row["candidate"] for row in rows if row["error"]
    } == set(candidates)
    scales = {c.key: c.scale for c in store.rubric.criteria}
    cards = judge_scores(store)
    assert cards, "the constrained answers of the bundled model parse"
    for card in cards.values():
        assert card.keys() == scales.keys()
        assert all(scales[k].min <= v <= scales[k].max for k, v in card.items())
    for row in rows:  # one greedy answer per candidate, unless it was retried
        temperature = json.loads(str(row["params"]))["temperature"]
        assert temperature == (0.0 if row["attempt"] == 0 else 0.7)
    for pid in {store.candidate_prompt_ids()[cid] for cid in cards}:
        judgement = store.judgement(pid, result.judge)
        assert judgement is not None and len(judgement.display_order) >= 2
    assert collect_pairs(store).pairs == []  # the judge alone forms no pairs

    again = judge_project(store, llama)  # nothing is left to ask
    assert again.total_prompts == 0 and len(samples(store)) == len(rows)

    more = judge_project(store, llama, samples=2, verdicts=False)
    added = samples(store)[len(rows) :]
    assert more.total_prompts == 2
    assert {row["sample"] for row in added if row["card"]} <= {1}
    assert all(json.loads(str(row["params"]))["temperature"] == 0.7 for row in added)


def scripted_judge(reply: Callable[[dict, int], str]) -> Callable[[dict, int], Reply]:
    """A server answering each judge question with `reply(question body, number)`."""
    return lambda body, number: stream(reply(body, number))


def valid_scores(body: dict) -> str:
    """A valid answer to a question: a score on each criterion's scale that depends on the
    response's length (so candidates differ), or "A" for a verdict (so the swap flips it)."""
    schema = body["response_format"]["json_schema"]["schema"]
    if "better" in schema["properties"]:
        return '{"better": "A"}'
    answer: dict[str, object] = {"reasons": "scripted"}
    question = body["messages"][0]["content"]
    for key, spec in schema["properties"].items():
        if key != "reasons":
            answer[key] = spec["enum"][len(question) % len(spec["enum"])]
    return json.dumps(answer)


def server_judge(server: FakeServer) -> OpenAIBackend:
    return OpenAIBackend(server.url, "scripted", concurrency=1)


def test_an_invalid_answer_is_retried_then_kept_as_a_failure_never_a_score(
    scored_project, fake: Fake
):
    server = fake(scripted_judge(lambda body, n: '{"clarity": 9, "reasons": "too high"}'))
    with server_judge(server) as backend:
        result = judge_project(scored_project, backend, retries=2)
    rows = samples(scored_project)
    assert len(rows) == 5 * 3  # five candidates, each asked three times
    assert {row["attempt"] for row in rows} == {0, 1, 2}
    assert all(row["card"] is None and row["reply"] for row in rows)
    assert all("9" in str(row["error"]) or "no score" in str(row["error"]) for row in rows)
    assert judge_scores(scored_project) == {}
    assert result.failures == 5 and result.candidates == 0


def test_a_retry_that_succeeds_keeps_the_failed_reply_and_stores_the_card(
    scored_project, fake: Fake
):
    def reply(body: dict, number: int) -> str:
        return "not json at all" if number == 0 else valid_scores(body)

    with server_judge(fake(scripted_judge(reply))) as backend:
        result = judge_project(scored_project, backend, verdicts=False)
    rows = samples(scored_project)
    assert rows[0]["reply"] == "not json at all" and rows[0]["error"] == "the reply is not JSON"
    failed = rows[0]["candidate"]
    retried = [row for row in rows if row["candidate"] == failed and row["card"]]
    assert [row["attempt"] for row in retried] == [1]
    assert len(judge_scores(scored_project)) == 5
    assert result.failures == 0 and result.candidates == 5


def test_an_interrupted_run_keeps_finished_prompts_and_resumes(scored_project, fake: Fake):
    server = fake(scripted_judge(lambda body, n: valid_scores(body)))

    def stop_after_first(progress: JudgeProgress) -> None:
        if progress.done_prompts == 1:
            raise KeyboardInterrupt

    with server_judge(server) as backend:
        with pytest.raises(KeyboardInterrupt):
            judge_project(scored_project, backend, on_progress=stop_after_first)
        first = judge_scores(scored_project)
        assert len(first) in (2, 3)  # one whole prompt
        asked = len(server.requests)
        verdicts = scored_project.db.execute("select count(*) from judge_verdicts").fetchone()[0]
        result = judge_project(scored_project, backend)
    assert result.total_prompts == 1
    assert len(judge_scores(scored_project)) == 5
    # only the unfinished prompt is asked: its candidates' scores, then its verdicts
    assert len(server.requests) - asked == 5 - len(first) + result.verdicts
    assert result.verdicts + verdicts == len(
        scored_project.db.execute("select * from judge_verdicts").fetchall()
    )


def test_the_pair_its_scores_form_is_asked_in_both_orders(scored_project, fake: Fake):
    with server_judge(fake(scripted_judge(lambda body, n: valid_scores(body)))) as backend:
        result = judge_project(scored_project, backend)
    rows = scored_project.db.execute(
        "select prompt_id, first_id, second_id, winner_id, reply from judge_verdicts order by id"
    ).fetchall()
    assert result.verdicts == len(rows) > 0
    by_prompt: dict[str, list[tuple[str, str, str]]] = {}
    for pid, first, second, winner, reply in rows:
        by_prompt.setdefault(pid, []).append((first, second, winner))
        assert reply == '{"better": "A"}' and winner == first
    cards = judge_scores(scored_project)
    rubric = scored_project.rubric
    for (first, second, _), (again_first, again_second, _) in by_prompt.values():
        assert (again_first, again_second) == (second, first)
        assert total(rubric, cards[first]) > total(rubric, cards[second])  # best shown first
    assert any(is_judge(name) for name in scored_project.annotator_names())
    assert collect_pairs(scored_project).pairs == []


@pytest.mark.slow
def test_the_bundled_model_answers_a_verdict_in_its_shape(scored_project, llama):
    prompt = next(scored_project.prompts())
    first, second = scored_project.candidates(prompt.id)[:2]
    question = verdict_question(scored_project.rubric, messages_of(prompt), first.text, second.text)
    preset = DecodingPreset(name="judge", temperature=0.0, max_tokens=32)
    answers = llama.answer(
        [question, question],
        [preset, preset.model_copy(update={"temperature": 1.0})],
        VERDICT_SCHEMA,
    )
    assert [read_verdict(answer.text) in ("A", "B") for answer in answers] == [True, True]


def test_the_command_judges_and_says_what_next(tmp_path: Path, scored_project, fake: Fake):
    from click.testing import CliRunner

    from dpo_tui.cli import cli

    server = fake(scripted_judge(lambda body, n: valid_scores(body)))
    path = scored_project.path
    scored_project.close()
    result = CliRunner().invoke(
        cli,
        [
            *("judge", str(path), "--backend", "openai", "--base-url", server.url),
            *("--model-name", "scripted", "--samples", "2"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "judge:scripted@" in result.output and "5 candidate(s) scored" in result.output
    assert f"dpo-tui report {path} --judge" in result.output
    with ProjectStore.open(path) as store:
        assert len(samples(store)) == 10
        status = store.status()
    assert (status.scores, status.judged_prompts, status.judge_scores) == (0, 0, 5 * 2)
    shown = CliRunner().invoke(cli, ["status", str(path)]).output
    assert "0 prompts, 0 scores" in shown and "10 scores (see `report --judge`)" in shown


@pytest.mark.slow
def test_questions_too_long_for_the_context_are_split_then_kept_as_failures(scored_project):
    store = scored_project
    prompt = next(p for p in store.prompts() if len(store.candidates(p.id)) == 3)
    long_text = "This reply goes on and on about the weather. " * 150
    store.add_candidates(
        [
            Candidate(
                id=candidate_id(prompt.id, long_text),
                prompt_id=prompt.id,
                text=long_text,
                origin="imported:test",
            )
        ]
    )
    with LlamaBackend(n_ctx=1024) as small:  # one question fits, not three (with 176 each)
        result = judge_project(store, small, limit=1, verdicts=False)
    rows = samples(store)
    failed = [row for row in rows if row["error"]]
    assert [row["candidate"] for row in failed] == [candidate_id(prompt.id, long_text)]
    assert "over the context" in str(failed[0]["error"]) and failed[0]["reply"] == ""
    assert len(judge_scores(store)) == 3  # the others, asked fewer at a time
    assert result.failures == 1
