"""Candidates made elsewhere: records of a prompt and one or more responses."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dpo_tui.core.ids import candidate_id, prompt_id
from dpo_tui.core.importers.base import Fail, RawRecord, messages_from
from dpo_tui.core.models import Candidate
from dpo_tui.core.safe_text import storable
from dpo_tui.errors import InputFileError

MAX_RESPONSE_CHARS = 200_000


def to_candidates(
    path: Path, records: Iterable[RawRecord], known_prompts: set[str], unit: str = "line"
) -> list[Candidate]:
    """Validate records into candidates matched to `known_prompts` by content hash.

    A record names its prompt by `prompt` (text), `messages` or `prompt_id`, and holds
    `response` (text) or `responses` (list of texts); `model` is optional.
    """
    candidates = []
    for record in records:

        def fail(problem: str, line: int = record.line) -> InputFileError:
            return InputFileError(path, problem, line=line, unit=unit)

        fields = record.value
        if not isinstance(fields, dict):
            raise fail("expected an object with a prompt and response(s)")
        pid = _prompt_id_of(fields, fail)
        if pid not in known_prompts:
            raise InputFileError(
                path,
                f"the prompt (id {pid}) is not in the project",
                line=record.line,
                unit=unit,
                hint="import the prompts first with `dpo-tui import`; prompts match by their "
                "text with case and whitespace ignored",
            )
        model = fields.get("model") or ""
        if not isinstance(model, str):
            raise fail("field 'model' must be text")
        for text in _responses_of(fields, fail):
            candidates.append(
                Candidate(
                    id=candidate_id(pid, text),
                    prompt_id=pid,
                    text=text,
                    origin=f"imported:{model or path.name}",
                    model=model,
                )
            )
    if not candidates:
        raise InputFileError(path, "no candidates found: the file is empty")
    return candidates


def _prompt_id_of(fields: dict[str, object], fail: Fail) -> str:
    if isinstance(fields.get("prompt_id"), str):
        return str(fields["prompt_id"])
    turns = fields.get("messages")
    if isinstance(turns, list):
        try:
            messages = messages_from(turns, "messages")
        except ValueError as exc:
            raise fail(str(exc)) from None
        return prompt_id("", messages)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        names = ", ".join(repr(name) for name in fields) or "no fields"
        raise fail(f"no prompt: expected 'prompt' (text), 'messages' or 'prompt_id' (has: {names})")
    return prompt_id(prompt)


def _responses_of(fields: dict[str, object], fail: Fail) -> list[str]:
    if "responses" in fields:
        responses = fields["responses"]
        if not isinstance(responses, list) or not responses:
            raise fail("field 'responses' must be a non-empty list of texts")
    elif "response" in fields:
        responses = [fields["response"]]
    else:
        raise fail("no response: expected 'response' (text) or 'responses' (list of texts)")
    texts = []
    for number, response in enumerate(responses, start=1):
        if not isinstance(response, str) or not response.strip():
            raise fail(f"response {number} must be non-empty text")
        if len(response) > MAX_RESPONSE_CHARS:
            raise fail(f"response {number} is over {MAX_RESPONSE_CHARS:,} characters")
        problem = storable(response)
        if problem:
            raise fail(f"response {number} {problem}")
        texts.append(response)
    return texts
