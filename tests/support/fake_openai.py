"""A local fake of an OpenAI-compatible chat server, for tests that must not leave the machine.

    from tests.support.fake_openai import FakeOpenAI

    with FakeOpenAI(replies=["first", "second"]) as fake:        # a queue of replies
        client = openai.OpenAI(base_url=fake.base_url, api_key="test")
        ...
        assert fake.requests[0]["messages"][-1]["content"] == "..."

    with FakeOpenAI(replies=lambda request: "yes") as fake:      # a function of the request JSON
        fake.fail_next(2, status=429)                             # the next 2 calls fail
        ...

The server is a ``ThreadingHTTPServer`` on 127.0.0.1 with an OS-assigned port,
serving ``POST /v1/chat/completions`` and ``GET /v1/models`` with the JSON shapes
of the real API (``id``, ``choices[].message``, ``finish_reason``, ``usage``).
Token counts are whitespace-separated words, so tests can predict them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], str]


@dataclass
class Failure:
    """One injected failure: an HTTP status, an error body, and optional Retry-After seconds."""

    status: int = 500
    message: str = "injected failure"
    retry_after: float | None = None


@dataclass
class Received:
    """What one call to the server looked like (failed calls included)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int = 200
    time: float = field(default_factory=time.time)


def count_tokens(text: str) -> int:
    """The fake's tokenizer: one token per whitespace-separated word."""
    return len(str(text).split())


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


class FakeOpenAI:
    """A scripted OpenAI-compatible server; use as a context manager (or ``start()``/``stop()``).

    ``replies``: a callable ``(request_json) -> str``, a single string (always that reply),
    or an iterable of strings consumed in order (a request when none is left gets HTTP 400,
    so a test that asks more often than it scripted fails loudly instead of retrying).
    Without ``replies`` the server echoes the last user message.
    """

    def __init__(self, replies: Reply | str | Iterable[str] | None = None, *, model: str = "fake-model",
                 delay: float = 0.0, finish_reason: str = "stop", api_key: str | None = None) -> None:
        self.model = model
        self.api_key = api_key  # when set, every request without "Bearer <api_key>" gets 401
        self.delay = delay
        self.finish_reason = finish_reason
        self._lock = threading.Lock()
        self._reply_fn: Reply | None = None
        self._queue: deque[str] | None = None
        if callable(replies):
            self._reply_fn = replies
        elif isinstance(replies, str):
            fixed = replies
            self._reply_fn = lambda request: fixed
        elif replies is not None:
            self._queue = deque(str(r) for r in replies)
        self._failures: deque[Failure] = deque()
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._counter = 0

    # ----- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        if self._server is not None:
            return self
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- what tests use --------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake server is not running: use it as a context manager or call start()")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The ``base_url`` to hand an OpenAI client (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """JSON bodies of the chat-completion calls that got a reply (failed calls excluded)."""
        with self._lock:
            return [r.body for r in self.received
                    if r.path.endswith("/chat/completions") and r.status == 200 and r.body is not None]

    @property
    def calls(self) -> int:
        """Every chat-completion call received, failed ones included."""
        with self._lock:
            return sum(1 for r in self.received if r.path.endswith("/chat/completions"))

    def fail_next(self, count: int = 1, *, status: int = 500, message: str = "injected failure",
                  retry_after: float | None = None) -> None:
        """Make the next ``count`` chat calls fail with ``status`` (e.g. 500, 503, 429)."""
        with self._lock:
            self._failures.extend(Failure(status, message, retry_after) for _ in range(count))

    def add_replies(self, *replies: str) -> None:
        with self._lock:
            if self._queue is None:
                self._queue = deque()
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget the received calls (scripted replies and pending failures stay)."""
        with self._lock:
            self.received.clear()

    # ----- the server side -------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0].rstrip("/")
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: dict[str, Any] | None = None
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._record(method, path, headers, None, 400)
                return self._send(handler, 400, error("request body is not JSON", "invalid_request_error"))
        if self.delay:
            time.sleep(self.delay)
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            self._record(method, path, headers, body, 401)
            return self._send(handler, 401, error("invalid api key", "invalid_request_error"))

        if method == "GET" and path in ("/v1/models", "/models"):
            self._record(method, path, headers, body, 200)
            return self._send(handler, 200, {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "fake-openai"}]})
        if method != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
            self._record(method, path, headers, body, 404)
            return self._send(handler, 404, error(f"no route {method} {path}", "not_found_error"))

        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            self._record(method, path, headers, body, failure.status)
            extra = {} if failure.retry_after is None else {"retry-after": f"{failure.retry_after:g}"}
            kind = "rate_limit_error" if failure.status == 429 else "server_error"
            return self._send(handler, failure.status, error(failure.message, kind), extra)

        assert body is not None
        problem = validate(body)
        if problem is None and body.get("stream"):
            problem = "the fake server does not stream"
        if problem is not None:
            self._record(method, path, headers, body, 400)
            return self._send(handler, 400, error(problem, "invalid_request_error"))

        n = int(body.get("n") or 1)
        texts: list[str] = []
        for _ in range(n):
            try:
                text = self._next_reply(body)
            except Exception as exc:  # a broken reply function shows up as a server error, not a hang
                self._record(method, path, headers, body, 500)
                return self._send(handler, 500, error(f"fake reply function raised {exc!r}", "server_error"))
            if text is None:
                self._record(method, path, headers, body, 400)
                return self._send(handler, 400, error("fake server: no scripted reply left", "invalid_request_error"))
            texts.append(text)
        self._record(method, path, headers, body, 200)
        self._send(handler, 200, self._completion(body, texts))

    def _next_reply(self, body: dict[str, Any]) -> str | None:
        if self._reply_fn is not None:
            return str(self._reply_fn(body))
        with self._lock:
            if self._queue is not None:
                return self._queue.popleft() if self._queue else None
        users = [m for m in body["messages"] if m.get("role") == "user"]
        return message_text(users[-1]) if users else ""

    def _completion(self, body: dict[str, Any], texts: list[str]) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            number = self._counter
        prompt_tokens = sum(count_tokens(message_text(m)) for m in body["messages"])
        completion_tokens = sum(count_tokens(t) for t in texts)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": text, "refusal": None},
                 "logprobs": None, "finish_reason": self.finish_reason}
                for i, text in enumerate(texts)
            ],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _record(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None,
                status: int) -> None:
        with self._lock:
            self.received.append(Received(method, path, headers, body, status))

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)


def error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def validate(body: dict[str, Any]) -> str | None:
    """The checks a real server makes before it answers; ``None`` when the request is fine."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "developer", "user",
                                                                        "assistant", "tool"):
            return f"bad message: {message!r}"
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or n < 1):
        return "'n' must be a positive integer"
    return None
