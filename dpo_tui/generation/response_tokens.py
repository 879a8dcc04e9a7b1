"""How a scorer cuts a conversation and its responses into tokens: the prompt as the template
renders it for the next assistant turn, and each response as the tokens the template adds after
it; the same for every scorer (llama.cpp's and transformers'), so their figures compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jinja2

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.runtime import llama_cpp
from dpo_tui.generation.templates import PromptTemplate

Tokenize = Callable[[str], list[int]]


class ResponseTokens:
    """`encode(messages, responses)` under `template`: `tokenize` reads a whole text (BOS
    once), `plain` a response alone (no BOS), used when the template's rendering of the
    response does not extend the prompt's tokens."""

    def __init__(self, template: PromptTemplate, tokenize: Tokenize, plain: Tokenize) -> None:
        self.template = template
        self._tokenize, self._plain = tokenize, plain
        self._conversation = llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=template.text,
            eos_token=template.eos_token,
            bos_token=template.bos_token,
            add_generation_prompt=False,
        )

    def encode(
        self, messages: Sequence[Message], responses: Sequence[str]
    ) -> tuple[list[int], list[list[int]]]:
        """The prompt's tokens and each response's tokens after it."""
        if not messages or messages[-1].role != "user":
            raise GenerationError(
                "a conversation to score responses to must end with a user turn",
                hint="remove trailing assistant turns from the prompt",
            )
        prompt_text = self.template.render(messages)
        prompt = self._tokenize(prompt_text)
        encoded = []
        for response in responses:
            completion = self.completion(messages, prompt_text, response)
            if completion is not None:
                tokens = self._tokenize(prompt_text + completion)
                if tokens[: len(prompt)] == prompt:
                    encoded.append(tokens[len(prompt) :])
                    continue
            encoded.append(self._plain(response))
        return prompt, encoded

    def completion(
        self, messages: Sequence[Message], prompt_text: str, response: str
    ) -> str | None:
        """The text the template writes for `response` after `prompt_text` (the rendered
        prompt of `messages`), trailing whitespace removed; None when the conversation with
        the response does not start with the prompt."""
        turns = [m.model_dump() for m in messages]
        try:
            # llama-cpp-python types messages as its OpenAI TypedDicts; these are plain
            whole = self._conversation(
                messages=[*turns, {"role": "assistant", "content": response}]  # type: ignore[list-item]
            ).prompt
        except (jinja2.TemplateError, ValueError, TypeError) as error:
            raise GenerationError(
                f"the {self.template.source} prompt template failed on a conversation "
                f"ending with the response: {error}",
                hint="score with the template the candidates were generated with",
            ) from error
        if not whole.startswith(prompt_text):
            return None
        return whole[len(prompt_text) :].rstrip()
