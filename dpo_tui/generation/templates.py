"""Prompt templates: Jinja2 chat templates, the model's own or a plain one for base models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import jinja2

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.runtime import llama_cpp

TemplateSource = Literal["gguf", "default", "custom"]

DEFAULT_TEMPLATE = (
    "Below is a question from a user, followed by a helpful, detailed answer from an expert.\n\n"
    "{% for message in messages %}"
    "{% if message.role == 'system' %}{{ message.content | trim }}\n\n"
    "{% elif message.role == 'user' %}Question: {{ message.content | trim }}\n\n"
    "{% else %}Answer: {{ message.content | trim }}\n\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Answer:{% endif %}"
)
"""The plain template used when a model has no chat template (a base model, like the bundled
Gemma 3 270M): an instruction line, the system text, then "Question:"/"Answer:" turns, ending
with "Answer:" for the model to complete. Of the formats tried on the sample prompts, this one
made the 270M base model answer the question most often, instead of chatting back as the user
or stopping after a few words."""

DEFAULT_STOP: tuple[str, ...] = ("\nQuestion:", "\nAnswer:")
"""Where an answer in DEFAULT_TEMPLATE ends: the model starting the next turn."""

TEMPLATE_HELP = (
    "a prompt template is a Jinja2 chat template, like those in GGUF files; it gets "
    "`messages` (a list of {role, content}, role one of system/user/assistant, ending with a "
    "user turn), `bos_token`, `eos_token` and `add_generation_prompt` (always true)"
)


class PromptTemplate:
    """A Jinja2 chat template, where it came from, and the strings that end an answer in it.

    The template gets the variables `messages` (a list of `{"role", "content"}` dicts),
    `bos_token`, `eos_token`, `add_generation_prompt` (always true) and `raise_exception`,
    and is rendered the way llama-cpp-python renders a GGUF's chat template.
    """

    def __init__(
        self,
        text: str,
        *,
        source: TemplateSource = "custom",
        stop: Sequence[str] = (),
        bos_token: str = "",
        eos_token: str = "",
    ) -> None:
        self.text = text
        self.source: TemplateSource = source
        self.stop = tuple(stop)
        self.bos_token, self.eos_token = bos_token, eos_token
        try:
            self._formatter = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
                template=text, eos_token=eos_token, bos_token=bos_token
            )
        except jinja2.TemplateError as error:
            raise GenerationError(
                f"the {source} prompt template is not valid Jinja2: {error}", hint=TEMPLATE_HELP
            ) from error

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for `messages`, to be tokenized with special tokens parsed."""
        turns = [message.model_dump() for message in messages]
        try:
            # llama-cpp-python types messages as its OpenAI TypedDicts; ours are {role, content}
            return self._formatter(messages=turns).prompt  # type: ignore[arg-type]
        except (jinja2.TemplateError, ValueError, TypeError) as error:
            raise GenerationError(
                f"the {self.source} prompt template failed on this conversation: {error}",
                hint=TEMPLATE_HELP,
            ) from error


def choose_template(
    chat_template: str | None,
    override: str | None = None,
    stop: Sequence[str] | None = None,
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> PromptTemplate:
    """The template to use: `override` if given, else the model's own, else DEFAULT_TEMPLATE.

    `stop` replaces the template's stop strings (DEFAULT_STOP for the default template, none
    for the others: chat models end a turn with an end-of-generation token).
    """
    source: TemplateSource
    default_stop: tuple[str, ...]
    if override is not None:
        text, source, default_stop = override, "custom", ()
    elif chat_template:
        text, source, default_stop = chat_template, "gguf", ()
    else:
        text, source, default_stop = DEFAULT_TEMPLATE, "default", DEFAULT_STOP
    return PromptTemplate(
        text,
        source=source,
        stop=default_stop if stop is None else stop,
        bos_token=bos_token,
        eos_token=eos_token,
    )
