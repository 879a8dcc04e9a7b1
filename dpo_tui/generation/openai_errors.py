"""What went wrong with a request to an OpenAI-compatible server, as a GenerationError."""

from __future__ import annotations

import json
from typing import Protocol

import openai

from dpo_tui.errors import GenerationError

NOT_OPENAI = "check that base_url points at an OpenAI-compatible server"
_SEE_LOG = "the server's log says more"
_MAX_ERROR_CHARS = 300
_MISSING = ("not found", "does not exist", "unknown", "no such")


class Server(Protocol):
    """What an error message says of the server and the limits its requests ran under."""

    base_url: str
    model_name: str
    timeout: float
    max_retries: int


def request_error(
    server: Server, exc: Exception, url: str, *, after: int | None = None, retried: bool = True
) -> GenerationError:
    """What went wrong with a request to `url`: before its stream began (when the SDK has
    retried what it retries, if `retried`), or `after` pieces of it had arrived."""
    hint = _SEE_LOG
    if isinstance(exc, GenerationError):  # from _Decoder or _chunks
        message, hint = f"{url}: {exc.message}", exc.hint or hint
    elif isinstance(exc, openai.APITimeoutError):
        message = f"{url}: no answer within {server.timeout:g} s"
        hint = "the server may be overloaded or stuck; check it, or raise the timeout"
    elif isinstance(exc, openai.APIConnectionError):
        cause: BaseException = exc
        while (inner := cause.__cause__ or cause.__context__) is not None:
            cause = inner
        if isinstance(cause, ConnectionRefusedError):
            message = f"nothing is listening at {url} (connection refused)"
            hint = "start the server (`llama-server -m model.gguf --port 8080`) or fix the URL"
        else:
            message = f"cannot talk to {url}: {cause or type(cause).__name__}"
            hint = "check that the server is running and reachable from this machine"
    elif isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = server_message(exc.body) if exc.body else exc.response.reason_phrase
        message, lowered = f"{url} answered {status}: {detail}", detail.lower()
        missing = any(words in lowered for words in _MISSING)
        names_model = server.model_name.lower() in lowered or "model" in lowered
        retried = retried and (status in (408, 409, 429) or status >= 500)
        if status in (408, 409, 429) or status >= 500:
            hint = "the server is busy or failing; check its log, or lower the concurrency"
        elif status in (401, 403):
            hint = "pass the server's API key, or set DPO_TUI_API_KEY (or OPENAI_API_KEY)"
        elif names_model and (status == 404 or missing):
            message = f"{server.base_url} has no model {server.model_name!r}: {message}"
            hint = f"use a model the server serves; GET {server.base_url}/models lists them"
        elif status == 404:
            hint = "check base_url: the API root, usually ending in /v1 (http://host:8080/v1)"
        else:
            hint = "the server rejected the request; a prompt over the model's context or a "
            hint += "sampling setting the server does not accept are common causes"
    elif isinstance(exc, openai.APIError):  # the SDK's check for `{"error": ...}` chunks
        detail = server_message(exc.body or exc.message)
        message = f"{url}: reported an error mid-stream: {detail}"
    else:  # ValueError: a chunk that is not JSON, not UTF-8, or not an object
        message = f"{url}: malformed stream, expected a JSON chunk ({_shorten(str(exc))})"
        hint = NOT_OPENAI
    if after is not None:
        message = f"{message} (after {after} pieces)"
        if isinstance(exc, openai.APIConnectionError):
            hint = f"{hint}; not retried, since the stream had begun"
    elif retried and isinstance(exc, openai.APIConnectionError | openai.APIStatusError):
        count = exc.request.headers.get("x-stainless-retry-count", "")  # the SDK's own count
        attempts = int(count) + 1 if count.isdigit() else server.max_retries + 1
        message += f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
    return GenerationError(message, hint=hint)


def server_message(body: object) -> str:
    """The human part of an error body in any of the usual shapes, shortened."""
    while isinstance(body, dict):
        inner = body.get("message") or body.get("detail") or body.get("error")
        if inner is None:
            break
        body = inner
    if body is None or body == "":
        return "(empty answer)"
    return _shorten(body if isinstance(body, str) else json.dumps(body))


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_ERROR_CHARS else flat[: _MAX_ERROR_CHARS - 1] + "…"
