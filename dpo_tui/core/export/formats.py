"""Pairs as the records each trainer reads: one function per format, pair -> dict.

Each pair's `origin` says who made it: "human", or "judge" for a pair a judge model's scores
made on a prompt no human judged (`export --judge-pairs`). The formats with the guide's
columns (`table`, `hf`) always carry it; the trainers' own formats (`trl`, `openai`, `hh`)
keep exactly their fields unless a round may hold judge pairs (`with_origin`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dpo_tui.core.judging import is_judge
from dpo_tui.core.models import Message, PreferencePair

Record = dict[str, Any]
HUMAN_ORIGIN, JUDGE_ORIGIN = "human", "judge"


def origin(pair: PreferencePair) -> str:
    """ "judge" for a pair only judge models made, else "human"."""
    judged = pair.annotators and all(is_judge(a) for a in pair.annotators)
    return JUDGE_ORIGIN if judged else HUMAN_ORIGIN


def with_origin(record: Record, pair: PreferencePair) -> Record:
    """`record` with the pair's `origin`, if it does not carry it yet."""
    return record if "origin" in record else {**record, "origin": origin(pair)}


def _turns(pair: PreferencePair) -> list[dict[str, str]]:
    messages = pair.messages or (Message(role="user", content=pair.prompt),)
    return [m.model_dump() for m in messages]


def _reply(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def trl(pair: PreferencePair, conversational: bool = False) -> Record:
    """TRL DPOTrainer: prompt/chosen/rejected strings, or message lists (conversational)."""
    if conversational or pair.messages:
        return {
            "prompt": _turns(pair),
            "chosen": _reply(pair.chosen),
            "rejected": _reply(pair.rejected),
        }
    return {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected}


def openai(pair: PreferencePair, conversational: bool = False) -> Record:
    """OpenAI preference fine-tuning (DPO): input.messages, preferred/non_preferred output."""
    return {
        "input": {"messages": _turns(pair)},
        "preferred_output": _reply(pair.chosen),
        "non_preferred_output": _reply(pair.rejected),
    }


def table(pair: PreferencePair, conversational: bool = False) -> Record:
    """The guide's columns: prompt, better/weaker response, diagnosis, scores, and context."""
    return {
        "prompt_id": pair.prompt_id,
        "prompt": pair.prompt,
        "better_response": pair.chosen,
        "weaker_response": pair.rejected,
        "diagnosis": pair.diagnosis,
        "scores": json.dumps({"better": pair.chosen_scores, "weaker": pair.rejected_scores}),
        "margin": pair.margin,
        "by_veto": pair.by_veto,
        "annotators": ",".join(pair.annotators),
        "status": pair.status,
        "source": pair.source,
        "better_origin": pair.chosen_origin,
        "weaker_origin": pair.rejected_origin,
        "origin": origin(pair),
    }


def hf(pair: PreferencePair, conversational: bool = False) -> Record:
    """Hugging Face datasets: TRL's columns plus the diagnosis and context as columns."""
    context = table(pair)
    return {
        **trl(pair, conversational),
        "prompt_id": pair.prompt_id,
        "diagnosis": pair.diagnosis,
        "margin": pair.margin,
        "scores": context["scores"],
        "annotators": context["annotators"],
        "origin": context["origin"],
    }


def hh(pair: PreferencePair, conversational: bool = False) -> Record:
    """Anthropic HH style: whole Human/Assistant transcripts that differ in the last turn."""
    speaker = {"user": "Human", "assistant": "Assistant", "system": "System"}
    history = "".join(f"\n\n{speaker[t['role']]}: {t['content']}" for t in _turns(pair))
    return {
        "chosen": f"{history}\n\nAssistant: {pair.chosen}",
        "rejected": f"{history}\n\nAssistant: {pair.rejected}",
    }


RECORDS: dict[str, Callable[[PreferencePair, bool], Record]] = {
    "trl": trl,
    "openai": openai,
    "hf": hf,
    "jsonl": table,
    "json": table,
    "csv": table,
    "hh": hh,
}
