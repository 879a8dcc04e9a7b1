"""Prompt templates: the plain default for base models and Jinja2 chat templates."""

from __future__ import annotations

import pytest

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.templates import (
    DEFAULT_STOP,
    DEFAULT_TEMPLATE,
    PromptTemplate,
    choose_template,
)

CONVERSATION = [
    Message(role="system", content="You answer for Parcelnest.  "),
    Message(role="user", content="Where is my rug?"),
    Message(role="assistant", content="It was delivered on Tuesday."),
    Message(role="user", content="\nIt was not.\n"),
]

CHATML = (
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_default_template_single_question():
    prompt = choose_template(None).render([Message(role="user", content="Hi?")])
    assert prompt == (
        "Below is a question from a user, followed by a helpful, detailed answer from an "
        "expert.\n\nQuestion: Hi?\n\nAnswer:"
    )


def test_default_template_system_and_turns():
    template = choose_template(None)
    assert template.source == "default"
    assert template.stop == DEFAULT_STOP
    assert template.render(CONVERSATION) == (
        "Below is a question from a user, followed by a helpful, detailed answer from an "
        "expert.\n\n"
        "You answer for Parcelnest.\n\n"
        "Question: Where is my rug?\n\n"
        "Answer: It was delivered on Tuesday.\n\n"
        "Question: It was not.\n\n"
        "Answer:"
    )


def test_gguf_template_with_special_tokens():
    template = choose_template(CHATML, bos_token="<s>", eos_token="</s>")
    assert template.source == "gguf"
    assert template.stop == ()
    assert template.render(CONVERSATION[1:]) == (
        "<s><|user|>Where is my rug?</s><|assistant|>It was delivered on Tuesday.</s>"
        "<|user|>\nIt was not.\n</s><|assistant|>"
    )


def test_override_wins_over_the_models_template():
    template = choose_template(CHATML, "Q: {{ messages[-1].content }}\nA:", stop=["\nQ:"])
    assert template.source == "custom"
    assert template.stop == ("\nQ:",)
    assert template.render(CONVERSATION) == "Q: \nIt was not.\n\nA:"


def test_plain_template_can_be_overridden_with_the_default_text():
    template = PromptTemplate(DEFAULT_TEMPLATE, stop=DEFAULT_STOP)
    assert template.render(CONVERSATION).endswith("Question: It was not.\n\nAnswer:")


def test_invalid_template_is_reported_when_created():
    with pytest.raises(GenerationError, match="not valid Jinja2"):
        PromptTemplate("{% for m in messages %}")


def test_template_errors_are_generation_errors():
    template = PromptTemplate(
        "{% if messages[0].role != 'system' %}{{ raise_exception('needs a system turn') }}"
        "{% endif %}"
    )
    with pytest.raises(GenerationError, match="needs a system turn"):
        template.render(CONVERSATION[1:])
