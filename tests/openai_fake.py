"""A real HTTP server on 127.0.0.1 whose answers each test scripts: an OpenAI-compatible
server that misbehaves on cue (the generation and judge tests share it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(text: str | None = None, finish: str | None = None, **extra: object) -> str:
    delta = {} if text is None else {"content": text}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return "data: " + json.dumps({"object": "chat.completion.chunk", "choices": [choice], **extra})


@dataclass
class Reply:
    status: int = 200
    body: object = None
    events: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before each event (and before answering at all)."""


def stream(*pieces: str, finish: str = "stop", delay: float = 0.0) -> Reply:
    events = [chunk(), *(chunk(piece) for piece in pieces), chunk(finish=finish), "data: [DONE]"]
    return Reply(events=events, delay=delay)


class FakeServer:
    def __init__(self, respond: Callable[[dict, int], Reply]) -> None:
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.active = 0
        self.max_active = 0
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    number = len(owner.requests)
                    owner.requests.append(body)
                    owner.paths.append(self.path)
                    # names are case-insensitive; the openai SDK sends them lower-case
                    owner.headers.append({k.title(): v for k, v in self.headers.items()})
                    owner.active += 1
                    owner.max_active = max(owner.max_active, owner.active)
                try:
                    self.answer(respond(body, number))
                except OSError:
                    pass  # the client hung up
                finally:
                    with lock:
                        owner.active -= 1

            def do_GET(self) -> None:
                """`/models`: an empty list (any model name is taken)."""
                data = json.dumps({"object": "list", "data": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def answer(self, reply: Reply) -> None:
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.status != 200:
                    data = json.dumps(reply.body).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in reply.events:
                    time.sleep(reply.delay)
                    self.wfile.write(f"{event}\n\n".encode())
                    self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
