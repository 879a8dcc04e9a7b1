"""A Backend that talks to any OpenAI-compatible server (llama-server, vLLM, llama-cpp-python).

Each candidate is one streamed request to `{base_url}/chat/completions` or `/completions` made
with the official `openai` SDK: HTTP, Server-Sent Events, timeouts and retries (exponential
backoff with jitter, honouring Retry-After) are the SDK's. Requests run in a thread pool shared
by every `generate()` and `answer()` call, so at most `concurrency` are in flight at once. Ours:
the check that the server lists the model, errors with a hint (see `openai_errors`), the checks
for a stream cut short (no `[DONE]`, no finish reason), llama.cpp's `error:` events, a bound on
line length, and cancellation: closing a stream or the client does not wake a thread blocked on
a silent server, so the sockets of a call are noted as they connect and shut down when it is
cancelled.

`answer()` asks for answers to a JSON schema as vLLM and llama-server take it: `response_format`
`{"type": "json_schema", "json_schema": {"name": "answer", "schema": ..., "strict": true}}`.
llama-cpp-python's server knows only `{"type": "json_object", "schema": ...}` and refuses the
other (with a 4xx, or, in the version we test, a 500 wrapping its validation error). So an answer
400, 422 or 500 naming `response_format` or `json_schema` to a request in that form (a 500 not
retried by the SDK) gets the request sent once more in the json_object form, which the backend
then uses for every later request; any other error is reported as usual. The completions API
takes no schema (llama-cpp-python's only a GBNF `grammar`), so `answer()` refuses one there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import Omit, Stream, omit
from openai._streaming import ServerSentEvent, SSEDecoder
from openai.types import Completion
from openai.types.chat import ChatCompletionChunk

from dpo_tui.core.decoding import DecodingPreset
from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.base import Api, FinishReason, GeneratedCandidate, OnToken, check_pairing
from dpo_tui.generation.openai_errors import NOT_OPENAI, request_error, server_message

RenderPrompt = Callable[[Sequence[Message]], str]
"""Turns a conversation into the raw prompt text the completions API takes."""

API_KEY_VARIABLES = ("DPO_TUI_API_KEY", "OPENAI_API_KEY")
_MAX_LINE_BYTES = 1024 * 1024
_SOCKET_EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")
_current = threading.local()
"""`.call`: the _Call whose candidate this worker thread is making, for the client's hooks."""

_Chunks = Stream[ChatCompletionChunk] | Stream[Completion]


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
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's `trace` extension: note the socket each request connects (or wraps in TLS)."""
        if event in _SOCKET_EVENTS:
            with self._lock:
                self._sockets.append(info["return_value"].get_extra_info("socket"))
            if self.cancelled.is_set():  # cancel() may have run before the append
                self.cancel()

    def cancel(self) -> None:
        """Stop every request: shutting the sockets down wakes threads blocked reading them."""
        self.cancelled.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError, AttributeError):  # closed already, or not a socket
                sock.shutdown(socket.SHUT_RDWR)


class _Decoder(SSEDecoder):
    """The SDK's SSE decoder, refusing what it lets pass: an `error:` event (llama.cpp's), a
    stream that ends without `data: [DONE]`, a line over `_MAX_LINE_BYTES`."""

    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[ServerSentEvent]:
        for event in super().iter_bytes(_bounded(iterator)):
            yield event
            if event.data.startswith("[DONE]"):
                return  # the SDK reads no further
        raise GenerationError(
            "the stream ended without `data: [DONE]`",
            hint="the server probably failed mid-answer (e.g. a prompt longer than its "
            'context; its log says why), or it does not support "stream": true',
        )

    def decode(self, line: str) -> ServerSentEvent | None:
        name, _, value = line.partition(":")
        if name == "error":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
            raise GenerationError(f"reported an error mid-stream: {server_message(value)}")
        return super().decode(line)


class _Client(openai.OpenAI):
    """The SDK's client with two hooks filled in: our decoder, and retry waits that
    cancelling the call cuts short (the SDK computes them; the waiting is done here)."""

    def _make_sse_decoder(self) -> _Decoder:
        return _Decoder()

    def _calculate_retry_timeout(self, *args: Any, **kwargs: Any) -> float:
        delay = super()._calculate_retry_timeout(*args, **kwargs)
        if (call := getattr(_current, "call", None)) is None:
            return delay
        if call.cancelled.wait(delay):  # the wait, cut short if the call is cancelled
            raise GenerationCancelled()
        return 0.0

    def _should_retry(self, response: Any) -> bool:
        """The SDK's choice, except for llama-cpp-python's 500 refusing the json_schema form."""
        if response.status_code == 500 and b"json_schema" in response.request.content:
            text = response.read().decode(errors="replace")
            if _refuses_json_schema(response.status_code, text):
                return False
        return super()._should_retry(response)


class OpenAIBackend:
    """Candidates from a server speaking `/v1/chat/completions` or `/v1/completions`.

    `base_url` is the API root, e.g. `http://127.0.0.1:8080/v1`. With `api="completions"`,
    `render_prompt` makes the prompt text (the chat template is ours, not the server's). The
    API key is `api_key`, else `DPO_TUI_API_KEY`, else `OPENAI_API_KEY`, else none. `timeout`
    bounds each wait for a connection or for the next bytes, not a whole candidate. The SDK
    retries connection errors, timeouts, 408, 409, 429 and 5xx up to `max_retries` times, only
    before the stream begins: later, pieces given to `on_token` would repeat. llama-cpp-python's
    server cuts a stream short when another request arrives unless run with
    `--interrupt_requests False`; start it so, or use `concurrency=1`.
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        port: int | None = -1
        with contextlib.suppress(ValueError):
            port = parts.port
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise GenerationError(
                f"{base_url!r} is not a server URL",
                hint="give the API root with its scheme, e.g. http://127.0.0.1:8080/v1",
            )
        if api != "chat" and (api != "completions" or render_prompt is None):
            problem = "needs a prompt template" if api == "completions" else "is unknown"
            raise GenerationError(
                f"API {api!r} {problem}", hint="use 'chat', or 'completions' with render_prompt"
            )
        if concurrency < 1 or timeout <= 0 or max_retries < 0:
            raise GenerationError(
                f"bad limits: {concurrency=}, {timeout=}, {max_retries=}",
                hint="concurrency must be at least 1, timeout above 0, max_retries at least 0",
            )
        self.model_name = model_name
        self.origin = f"openai:{self.base_url}#{model_name}"
        self.api: Api = api
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self._render_prompt = render_prompt
        key = api_key or next(
            (os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), None
        )
        # The SDK insists on a key; without one, every request omits the header it makes.
        self._headers: dict[str, str | Omit] = {} if key else {"Authorization": omit}
        self._client = _Client(
            base_url=self.base_url,
            api_key=key or "unused",
            timeout=timeout,
            max_retries=max_retries,
            # a connection per request, so that each is seen connecting (see _Call.trace)
            default_headers={"Connection": "close", "User-Agent": "dpo-tui"},
            http_client=openai.DefaultHttpxClient(
                trust_env=False, event_hooks={"request": [_add_trace]}
            ),
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dpo-openai")
        self._calls: set[_Call] = set()
        self._calls_lock = threading.Lock()
        self._json_object = False
        """Whether a schema goes in the json_object form (see the module docstring)."""

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check(self) -> list[str]:
        """The ids of the models the server lists; raise GenerationError at once (no retries)
        if it is down or lists models but not `model_name`. llama-cpp-python's server answers
        any model name with its default model, so only this catches a misspelt name there."""
        url = f"{self.base_url}/models"
        try:
            listing = self._client.with_options(max_retries=0).models.list
            models = [model.id for model in listing(extra_headers=self._headers).data]
            if not all(isinstance(model, str) for model in models):
                raise TypeError(models)
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            raise request_error(self, exc, url, retried=False) from None
        except (openai.APIError, AttributeError, TypeError, ValueError):
            raise GenerationError(f"{url} sent no OpenAI model list", hint=NOT_OPENAI) from None
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
        return self._generate([messages] * len(presets), presets, on_token, None)

    def answer(
        self,
        conversations: Sequence[Sequence[Message]],
        presets: Sequence[DecodingPreset],
        schema: Mapping[str, object] | None = None,
    ) -> list[GeneratedCandidate]:
        """One answer per (conversation, preset), in order (slot i answers conversation i),
        each constrained to the JSON `schema` if given (see the module docstring); requested
        concurrently, failing together, as `generate()` does."""
        check_pairing(conversations, presets)
        if schema is not None and self.api == "completions":
            raise GenerationError(
                "the completions API cannot constrain answers to a JSON schema",
                hint="use the chat API (api='chat') to ask for answers to a schema",
            )
        return self._generate(conversations, presets, None, schema)

    def _generate(
        self,
        conversations: Sequence[Sequence[Message]],
        presets: Sequence[DecodingPreset],
        on_token: OnToken | None,
        schema: Mapping[str, object] | None,
    ) -> list[GeneratedCandidate]:
        """One candidate per (conversation, preset), as `generate()` describes."""
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
                self._pool.submit(self._run, slot, preset, messages, call, emit, schema)
                for slot, (messages, preset) in enumerate(zip(conversations, presets, strict=True))
            ]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failures = [e for f in futures if f in done and (e := f.exception()) is not None]
            if failures:  # the first, preferring a real error to a cancellation
                raise min(failures, key=lambda error: isinstance(error, GenerationCancelled))
            return [future.result() for future in futures]
        except BaseException:
            call.cancel()
            raise
        finally:
            with self._calls_lock:
                self._calls.discard(call)

    def close(self) -> None:
        """Cancel requests in flight, shut the thread pool down and close the connections."""
        with self._calls_lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _run(
        self,
        slot: int,
        preset: DecodingPreset,
        messages: Sequence[Message],
        call: _Call,
        emit: OnToken,
        schema: Mapping[str, object] | None,
    ) -> GeneratedCandidate:
        """One candidate, on a worker thread."""
        url = self.base_url + ("/chat/completions" if self.api == "chat" else "/completions")
        if call.cancelled.is_set():
            raise GenerationCancelled()
        _current.call = call
        start = time.monotonic()
        try:
            stream = self._request(messages, preset, schema)
        except openai.APIError as exc:
            if call.cancelled.is_set():
                raise GenerationCancelled() from None
            raise request_error(self, exc, url) from None
        finally:
            _current.call = None
        pieces: list[str] = []
        first_token_at: float | None = None
        usage_tokens: int | None = None
        server_reason: str | None = None
        with stream:
            for chunk in self._chunks(stream, url, pieces, call):
                if call.cancelled.is_set():
                    raise GenerationCancelled()
                tokens = getattr(getattr(chunk, "usage", None), "completion_tokens", None)
                usage_tokens = tokens if isinstance(tokens, int) else usage_tokens
                for choice in getattr(chunk, "choices", None) or ():
                    delta = getattr(choice, "delta", None)  # chat; completions have .text
                    text = getattr(delta, "content", None) if delta else getattr(choice, "text", "")
                    if isinstance(text, str) and text:
                        first_token_at = first_token_at or time.monotonic()
                        pieces.append(text)
                        emit(slot, text)
                    server_reason = getattr(choice, "finish_reason", None) or server_reason
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

    def _request(
        self,
        messages: Sequence[Message],
        preset: DecodingPreset,
        schema: Mapping[str, object] | None = None,
    ) -> _Chunks:
        """Start one streamed request; the SDK's retries happen in here, and so does the one
        retry of a refused json_schema form in the json_object form (see the module docstring)."""
        params: dict[str, Any] = {
            "model": self.model_name,
            "stream_options": {"include_usage": True},
            "max_tokens": preset.max_tokens,
            "temperature": preset.temperature,
            "top_p": preset.top_p,
            "seed": preset.seed,
            "stop": list(preset.stop) if preset.stop else omit,
            "extra_headers": self._headers,
            "extra_body": {
                "min_p": preset.min_p,
                "top_k": preset.top_k,
                # llama.cpp's name, then vLLM's: each server ignores the other's.
                "repeat_penalty": preset.repeat_penalty,
                "repetition_penalty": preset.repeat_penalty,
            },
        }
        if self.api == "completions" and self._render_prompt is not None:
            params["prompt"] = self._render_prompt(messages)  # answer() refuses a schema here
            create: Callable[..., Any] = self._client.completions.create
        else:
            params["messages"] = [{"role": m.role, "content": m.content} for m in messages]
            params["response_format"] = self._response_format(schema)
            create = self._client.chat.completions.create
        stream: _Chunks
        try:
            stream = create(stream=True, **params)
        except openai.APIStatusError as exc:
            sent = params.get("response_format", omit)
            if sent is omit or sent["type"] != "json_schema":
                raise
            if not _refuses_json_schema(exc.status_code, str(exc.body)):
                raise
            self._json_object = True  # this server takes the json_object form
            params["response_format"] = self._response_format(schema)
            stream = create(stream=True, **params)
        return stream

    def _response_format(self, schema: Mapping[str, object] | None) -> dict[str, Any] | Omit:
        """The `response_format` that asks this server for answers to `schema`."""
        if schema is None:
            return omit
        if self._json_object:
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        }

    def _chunks(self, stream: _Chunks, url: str, pieces: list[str], call: _Call) -> Iterator[Any]:
        """The chunks of `stream`; what goes wrong while reading it becomes a GenerationError."""
        try:
            for chunk in stream:
                if getattr(chunk, "object", None) == "error":  # vLLM's way to fail mid-stream
                    detail = server_message(chunk.to_dict())
                    raise GenerationError(f"reported an error mid-stream: {detail}")
                if not isinstance(chunk, ChatCompletionChunk | Completion):
                    raise ValueError(chunk)
                yield chunk
        except (openai.APIError, GenerationError, ValueError) as exc:
            if call.cancelled.is_set():
                raise GenerationCancelled() from None
            raise request_error(self, exc, url, after=len(pieces)) from None


def _refuses_json_schema(status: int, text: str) -> bool:
    """Whether an answer `status`, `text` refuses the json_schema form of `response_format`."""
    return status in (400, 422, 500) and ("response_format" in text or "json_schema" in text)


def _add_trace(request: Any) -> None:
    """httpx request hook: a worker thread's request reports its sockets to its call."""
    call: _Call | None = getattr(_current, "call", None)
    if call is not None:
        request.extensions["trace"] = call.trace


def _bounded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks`, refusing a line over _MAX_LINE_BYTES (the SDK's decoder buffers any length)."""
    run = 0  # bytes since the last line break
    for chunk in chunks:
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        run = len(chunk) - cut - 1 if cut >= 0 else run + len(chunk)
        if run > _MAX_LINE_BYTES:
            raise GenerationError(f"sent a line over {_MAX_LINE_BYTES} bytes", hint=NOT_OPENAI)
        yield chunk
