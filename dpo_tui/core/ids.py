"""Content-hash ids: the same prompt or candidate has the same id in every project file."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence

from dpo_tui.core.models import Message

ID_HEX_CHARS = 16


def normalize_text(text: str) -> str:
    """Unicode NFC, case-folded, whitespace collapsed: what counts as "the same prompt"."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _digest(payload: str) -> str:
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:ID_HEX_CHARS]


def prompt_id(text: str, messages: Sequence[Message] | None = None) -> str:
    """Id of a prompt: its normalized text, or its normalized turns for a conversation."""
    if messages:
        turns = [[m.role, normalize_text(m.content)] for m in messages]
        return _digest("messages:" + json.dumps(turns, ensure_ascii=False))
    return _digest("text:" + normalize_text(text))


def candidate_id(prompt: str, text: str) -> str:
    """Id of a candidate response: its prompt's id and its exact text."""
    return _digest(f"candidate:{prompt}:{text}")
