"""A Backend that talks to any OpenAI-compatible HTTP server (llama-server, vLLM, llama-cpp-python).

Each candidate is one streamed request (`"stream": true`, Server-Sent Events) to
`{base_url}/chat/completions` or `{base_url}/completions`. Requests run in a thread pool shared
by every `generate()` call on the backend, so at most `concurrency` are in flight at once.
Only the standard library is used; HTTP proxies are not consulted.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException, HTTPResponse, HTTPSConnection
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.base import FinishReason, GeneratedCandidate, OnToken

Api = Literal["chat", "completions"]
RenderPrompt = Callable[[Sequence[Message]], str]
"""Turns a conversation into the raw prompt text the completions API takes."""

API_KEY_VARIABLES = ("DPO_TUI_API_KEY", "OPENAI_API_KEY")
MAX_RETRY_AFTER = 60.0
"""Longest wait honoured from a server's Retry-After header, in seconds."""
_MAX_ERROR_CHARS = 300
_MAX_BODY_BYTES = 64 * 1024
_MAX_LINE_BYTES = 1024 * 1024


class _Transient(Exception):
    """A failure worth retrying: no connection, a timeout, 429 or 5xx."""

    def __init__(self, message: str, hint: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retry_after = retry_after


class GenerationCancelled(GenerationError):
    """A request stopped early because the backend was closed or a sibling candidate failed."""

    def __init__(self) -> None:
        super().__init__(
            "generation was cancelled: the backend was closed or another candidate failed",
            hint="see the error of the candidate that failed, if any",
        )


class _Call:
    """The requests of one `generate()` call, so they can be cancelled together."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[HTTPConnection] = set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, or raise GenerationCancelled as soon as the call is cancelled."""
        if self._cancelled.wait(seconds):
            raise GenerationCancelled()

    def track(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.add(connection)

    def untrack(self, connection: HTTPConnection) -> None:
        connection.close()
        with self._lock:
            self._connections.discard(connection)

    def cancel(self) -> None:
        """Stop every request: shutting the sockets down wakes threads blocked reading them."""
        self._cancelled.set()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            sock = connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class OpenAIBackend:
    """Candidates from a server speaking `/v1/chat/completions` or `/v1/completions`.

    `base_url` is the API root, e.g. `http://127.0.0.1:8080/v1`. With `api="completions"`,
    `render_prompt` turns the conversation into prompt text (the chat template is then ours,
    not the server's). The API key comes from `api_key`, else `DPO_TUI_API_KEY`, else
    `OPENAI_API_KEY`; it is sent as a Bearer token to `base_url` only.

    `timeout` is the longest wait for a connection or for the next bytes of an answer (not for
    a whole candidate). Connection errors, timeouts, 429 and 5xx are retried up to
    `max_retries` times with exponential backoff (`backoff`, 2x, 4x... seconds, with jitter;
    a Retry-After header wins, up to `MAX_RETRY_AFTER`), but only before the first piece of
    text has been streamed: after that a retry would repeat pieces already given to `on_token`.

    llama-cpp-python's server interrupts a stream whenever another request arrives unless it
    runs with `--interrupt_requests False`; start it that way or use `concurrency=1`.
    """

    def __init__(
        self,
        base_url: str,
        model_name: str,
        *,
        api: Api = "chat",
        render_prompt: RenderPrompt | None = None,
        api_key: str | None = None,
        concurrency: int = 4,
        timeout: float = 300.0,
        max_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise GenerationError(
                f"{base_url!r} is not a server URL",
                hint="give the API root with its scheme, e.g. http://127.0.0.1:8080/v1",
            )
        if api not in ("chat", "completions"):
            raise GenerationError(
                f"unknown API {api!r}", hint="use 'chat' (/chat/completions) or 'completions'"
            )
        if api == "completions" and render_prompt is None:
            raise GenerationError(
                "the completions API needs a prompt template",
                hint="pass render_prompt, or use api='chat' to let the server apply its template",
            )
        if concurrency < 1 or timeout <= 0 or max_retries < 0 or backoff < 0:
            raise GenerationError(
                f"bad limits: concurrency={concurrency}, timeout={timeout}, "
                f"max_retries={max_retries}, backoff={backoff}",
                hint="concurrency must be at least 1, timeout above 0, the others at least 0",
            )
        self.model_name = model_name
        self.origin = f"openai:{self.base_url}#{model_name}"
        self.api: Api = api
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._render_prompt = render_prompt
        self._api_key = api_key or next(
            (os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), None
        )
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._path = parts.path
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dpo-openai")
        self._calls: set[_Call] = set()
        self._calls_lock = threading.Lock()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check(self) -> list[str]:
        """The ids of the models the server lists; raise GenerationError if it is down or
        lists models but not `model_name`.

        Worth calling before a long run: llama-cpp-python's server answers requests for any
        model name with its default model, so only this catches a misspelt name there.
        """
        call = _Call()
        try:
            connection, response = self._open("GET", "/models", None, call)
        except _Transient as exc:
            raise GenerationError(exc.message, hint=exc.hint) from None
        try:
            body = response.read(_MAX_BODY_BYTES)
        except (OSError, HTTPException) as exc:
            raise GenerationError(
                f"{self.base_url}/models: the answer broke off ({exc})",
                hint="check that the server is healthy and try again",
            ) from None
        finally:
            call.untrack(connection)
        try:
            listed = json.loads(body)["data"]
            models = [str(entry["id"]) for entry in listed]
        except (ValueError, KeyError, TypeError):
            raise GenerationError(
                f"{self.base_url}/models did not answer with an OpenAI model list: "
                f"{_shorten(body.decode('utf-8', 'replace'))}",
                hint="check that base_url is the API root of an OpenAI-compatible server",
            ) from None
        if models and self.model_name not in models:
            shown = ", ".join(repr(model) for model in models[:10])
            more = f" and {len(models) - 10} more" if len(models) > 10 else ""
            raise GenerationError(
                f"the server at {self.base_url} has no model {self.model_name!r}; "
                f"it serves {shown}{more}",
                hint="use one of those names as the model name",
            )
        return models

    def generate(
        self,
        messages: Sequence[Message],
        presets: Sequence[DecodingPreset],
        on_token: OnToken | None = None,
    ) -> list[GeneratedCandidate]:
        """One candidate per preset, requested concurrently, in preset order.

        `on_token(slot, piece)` is called from worker threads as pieces arrive, but never
        twice at once for one `generate()` call. If one candidate fails, the others are
        cancelled and its GenerationError is raised. The API cannot tell an end-of-generation
        token from a stop string, so both finish as "stop"; `max_tokens` finishes as "length".
        """
        call = _Call()
        emit_lock = threading.Lock()

        def emit(slot: int, piece: str) -> None:
            if on_token is not None:
                with emit_lock:
                    on_token(slot, piece)

        with self._calls_lock:
            self._calls.add(call)
        try:
            futures = [
                self._pool.submit(self._run, slot, preset, messages, call, emit)
                for slot, preset in enumerate(presets)
            ]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failure = _first_failure([future for future in futures if future in done])
            if failure is not None:
                raise failure
            return [future.result() for future in futures]
        except BaseException:
            call.cancel()
            raise
        finally:
            with self._calls_lock:
                self._calls.discard(call)

    def close(self) -> None:
        """Cancel requests in flight and shut the thread pool down."""
        with self._calls_lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _payload(self, messages: Sequence[Message], preset: DecodingPreset) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.model_name}
        if self._render_prompt is not None and self.api == "completions":
            payload["prompt"] = self._render_prompt(messages)
        else:
            payload["messages"] = [{"role": m.role, "content": m.content} for m in messages]
        payload |= {
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": preset.max_tokens,
            "temperature": preset.temperature,
            "top_p": preset.top_p,
            "min_p": preset.min_p,
            "top_k": preset.top_k,
            # llama.cpp's name, then vLLM's: each server ignores the other's.
            "repeat_penalty": preset.repeat_penalty,
            "repetition_penalty": preset.repeat_penalty,
            "seed": preset.seed,
        }
        if preset.stop:
            payload["stop"] = list(preset.stop)
        return payload

    def _run(
        self,
        slot: int,
        preset: DecodingPreset,
        messages: Sequence[Message],
        call: _Call,
        emit: OnToken,
    ) -> GeneratedCandidate:
        """One candidate, retrying transient failures that happen before any text arrived."""
        body = json.dumps(self._payload(messages, preset)).encode()
        attempt = 0
        while True:
            if call.cancelled:
                raise GenerationCancelled()
            try:
                return self._attempt(slot, preset, body, call, emit)
            except _Transient as exc:
                if attempt >= self.max_retries:
                    tries = f"{attempt + 1} attempts" if attempt else "1 attempt"
                    raise GenerationError(
                        f"{exc.message} (gave up after {tries})", hint=exc.hint
                    ) from None
                delay = self.backoff * 2**attempt * random.uniform(0.5, 1.5)
                if exc.retry_after is not None:
                    delay = min(exc.retry_after, MAX_RETRY_AFTER)
                call.sleep(delay)
                attempt += 1

    def _attempt(
        self, slot: int, preset: DecodingPreset, body: bytes, call: _Call, emit: OnToken
    ) -> GeneratedCandidate:
        endpoint = "/chat/completions" if self.api == "chat" else "/completions"
        url = self.base_url + endpoint
        start = time.monotonic()
        connection, response = self._open("POST", endpoint, body, call)
        pieces: list[str] = []
        first_token_at: float | None = None
        usage_tokens: int | None = None
        server_reason: str | None = None
        finished = False
        try:
            content_type = response.getheader("Content-Type", "")
            if "text/event-stream" not in content_type:
                raise GenerationError(
                    f"{url} answered with {content_type or 'no content type'}, not an event "
                    f"stream: {_shorten(_read_text(response))}",
                    hint='use a server that supports "stream": true (llama-server, vLLM, '
                    "llama-cpp-python)",
                )
            for data in self._events(response, url, call):
                if data == "[DONE]":
                    finished = True
                    break
                chunk = _parse_chunk(data, url)
                usage = chunk.get("usage")
                if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                    usage_tokens = usage["completion_tokens"]
                for choice in chunk.get("choices") or ():
                    piece = _choice_text(choice)
                    if piece:
                        first_token_at = first_token_at or time.monotonic()
                        pieces.append(piece)
                        emit(slot, piece)
                    server_reason = choice.get("finish_reason") or server_reason
        except _Transient as exc:
            if not pieces:
                raise
            raise GenerationError(
                f"{exc.message} after {len(pieces)} pieces of text had arrived",
                hint=f"{exc.hint}; not retried, since the text had already been shown",
            ) from None
        finally:
            call.untrack(connection)
        if not finished:
            raise GenerationError(
                f"{url}: the stream ended without `data: [DONE]` after {len(pieces)} pieces",
                hint="the server probably failed mid-answer (e.g. a prompt longer than its "
                "context); its log says why",
            )
        if server_reason is None:
            raise GenerationError(
                f"{url}: the stream ended without a finish reason after {len(pieces)} pieces",
                hint="the server cut the answer short; llama-cpp-python's server does that when "
                "another request arrives unless started with --interrupt_requests False",
            )
        end = time.monotonic()
        finish_reason: FinishReason = "length" if server_reason == "length" else "stop"
        return GeneratedCandidate(
            slot=slot,
            preset=preset,
            text="".join(pieces),
            token_count=usage_tokens if usage_tokens is not None else len(pieces),
            finish_reason=finish_reason,
            seconds=end - start,
            first_token_seconds=(first_token_at or end) - start,
        )

    def _open(
        self, method: str, endpoint: str, body: bytes | None, call: _Call
    ) -> tuple[HTTPConnection, HTTPResponse]:
        """Send one request; return the open connection and a 200 response, or raise."""
        url = self.base_url + endpoint
        connection_class = HTTPSConnection if self._https else HTTPConnection
        connection = connection_class(self._host, self._port, timeout=self.timeout)
        call.track(connection)
        headers = {
            "Accept": "text/event-stream" if body is not None else "application/json",
            "User-Agent": "dpo-tui",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            try:
                connection.connect()
                if call.cancelled:  # after connect(), cancel() can shut the socket down
                    raise GenerationCancelled()
                connection.request(method, self._path + endpoint, body=body, headers=headers)
                response = connection.getresponse()
            except (OSError, HTTPException) as exc:
                if call.cancelled:
                    raise GenerationCancelled() from None
                raise _network_error(exc, url, self.timeout) from None
            if response.status != 200:
                raise self._status_error(response, url)
        except BaseException:
            call.untrack(connection)
            raise
        return connection, response

    def _status_error(self, response: HTTPResponse, url: str) -> Exception:
        status = response.status
        try:
            detail = _server_message(_read_text(response))
        except (OSError, HTTPException):
            detail = response.reason
        said = f"{url} answered {status}: {detail}"
        if status == 429 or status >= 500:
            return _Transient(
                said,
                hint="the server is busy or failing; check its log, or lower the concurrency",
                retry_after=_retry_after(response.getheader("Retry-After")),
            )
        if status in (401, 403):
            return GenerationError(
                said,
                hint="pass the server's API key, or set DPO_TUI_API_KEY (or OPENAI_API_KEY)",
            )
        lowered = detail.lower()
        names_model = self.model_name.lower() in lowered or "model" in lowered
        missing = any(
            words in lowered for words in ("not found", "does not exist", "unknown", "no such")
        )
        if names_model and (status == 404 or missing):
            return GenerationError(
                f"the server at {self.base_url} has no model {self.model_name!r}: {said}",
                hint=f"use a model the server serves; GET {self.base_url}/models lists them",
            )
        if status == 404:
            return GenerationError(
                said,
                hint="check base_url: it is the API root, usually ending in /v1 "
                "(e.g. http://127.0.0.1:8080/v1)",
            )
        return GenerationError(
            said,
            hint="the server rejected the request; a prompt longer than the model's context "
            "or a sampling setting the server does not accept are common causes",
        )

    def _events(self, response: HTTPResponse, url: str, call: _Call) -> Iterator[str]:
        """The data of each Server-Sent Event; raise on an `error:` event or a broken stream."""
        field = "data"
        lines: list[str] = []
        while True:
            if call.cancelled:
                raise GenerationCancelled()
            try:
                raw = response.readline(_MAX_LINE_BYTES)
            except (OSError, HTTPException) as exc:
                if call.cancelled:
                    raise GenerationCancelled() from None
                raise _network_error(exc, url, self.timeout) from None
            if not raw and call.cancelled:
                raise GenerationCancelled()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:  # a field line; ":" starts a comment (keep-alive pings)
                name, _, value = line.partition(":")
                if name in ("data", "error"):
                    field = "error" if name == "error" else field
                    lines.append(value.removeprefix(" "))
                continue
            if lines:
                data = "\n".join(lines)
                if field == "error":
                    raise GenerationError(
                        f"{url} reported an error mid-stream: {_server_message(data)}",
                        hint="the server's log says more",
                    )
                yield data
            if not raw:  # end of the stream, after dispatching a last unterminated event
                return
            field, lines = "data", []


def _first_failure(done: list[Future[GeneratedCandidate]]) -> BaseException | None:
    """The first error among finished futures, preferring a real one to a cancellation."""
    errors = [error for future in done if (error := future.exception()) is not None]
    errors.sort(key=lambda error: isinstance(error, GenerationCancelled))
    return errors[0] if errors else None


def _network_error(exc: BaseException, url: str, timeout: float) -> _Transient:
    if isinstance(exc, TimeoutError):
        return _Transient(
            f"{url}: no answer within {timeout:g} s",
            hint="the server may be overloaded or stuck; check it, or raise the timeout",
        )
    if isinstance(exc, ConnectionRefusedError):
        return _Transient(
            f"nothing is listening at {url} (connection refused)",
            hint="start the server (e.g. `llama-server -m model.gguf --port 8080`) or fix the URL",
        )
    return _Transient(
        f"cannot talk to {url}: {exc or type(exc).__name__}",
        hint="check that the server is running and reachable from this machine",
    )


def _parse_chunk(data: str, url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not isinstance(chunk, dict) or not all(isinstance(c, dict) for c in choices or ()):
        raise GenerationError(
            f"{url}: malformed stream, expected a JSON chunk but got {_shorten(data)!r}",
            hint="check that base_url points at an OpenAI-compatible server",
        )
    error = chunk.get("error") or (chunk if chunk.get("object") == "error" else None)
    if error:
        raise GenerationError(
            f"{url} reported an error mid-stream: {_server_message(json.dumps(chunk))}",
            hint="the server's log says more",
        )
    return chunk


def _choice_text(choice: dict[str, Any]) -> str:
    """The text of one streamed choice: `delta.content` (chat) or `text` (completions)."""
    delta = choice.get("delta")
    text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
    return text if isinstance(text, str) else ""


def _read_text(response: HTTPResponse) -> str:
    return response.read(_MAX_BODY_BYTES).decode("utf-8", "replace")


def _server_message(text: str) -> str:
    """The human part of an error body in any of the usual shapes, shortened."""
    try:
        body = json.loads(text)
    except ValueError:
        return _shorten(text) or "(empty answer)"
    message: Any = body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message", error)
        else:
            message = error or body.get("message") or body.get("detail") or body
    return _shorten(message if isinstance(message, str) else json.dumps(message))


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_ERROR_CHARS else flat[: _MAX_ERROR_CHARS - 1] + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if readable."""
    if not value:
        return None
    if value.strip().replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
