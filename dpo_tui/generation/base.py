"""The Backend protocol: every candidate for one prompt, streamed token by token."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, Self

from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError

FinishReason = Literal["stop", "length", "eog"]
OnToken = Callable[[int, str], None]
"""Called with (slot, text piece) as each piece of a candidate is decoded."""


@dataclass(frozen=True)
class GeneratedCandidate:
    """One finished candidate and how it was made."""

    slot: int
    preset: DecodingPreset
    text: str
    token_count: int
    finish_reason: FinishReason
    seconds: float
    first_token_seconds: float


Api = Literal["chat", "completions"]
"""Which endpoint of an OpenAI-compatible server generates: chat or plain completions."""


class Backend(Protocol):
    """Makes candidates. `model_name` and `origin` (e.g. `gguf:<sha256>`) are stored with each."""

    model_name: str
    origin: str

    def generate(
        self,
        messages: Sequence[Message],
        presets: Sequence[DecodingPreset],
        on_token: OnToken | None = None,
    ) -> list[GeneratedCandidate]:
        """One candidate per preset for the conversation `messages` (ending with a user turn)."""
        ...

    def answer(
        self,
        conversations: Sequence[Sequence[Message]],
        presets: Sequence[DecodingPreset],
        schema: Mapping[str, object] | None = None,
    ) -> list[GeneratedCandidate]:
        """One answer per (conversation, preset), in order (slot i answers conversation i),
        each constrained to the JSON `schema` if given (a judge's questions)."""
        ...

    def close(self) -> None:
        """Release the model or connection."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


def check_pairing(
    conversations: Sequence[Sequence[Message]], presets: Sequence[DecodingPreset]
) -> None:
    """Refuse an `answer()` call whose conversations and presets do not pair up."""
    if len(conversations) != len(presets):
        raise GenerationError(
            f"{len(conversations)} conversations for {len(presets)} presets",
            hint="pass one decoding preset per conversation",
        )
