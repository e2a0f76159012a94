"""A small fake of the OpenAI Chat Completions wire protocol, for contract tests of the LLM engine.

Speaks what the ``openai`` SDK sends and reads: ``POST .../chat/completions`` with ``stream: true`` answered as SSE
chunks (text deltas, or ``delta.tool_calls`` then ``finish_reason: "tool_calls"``), ending with ``data: [DONE]``;
HTTP errors with ``Retry-After``; a slow answer for timeouts; a whole JSON answer when ``stream`` is not set.
It serves the OpenAI route (``/v1/...``), Azure's v1
route (``/openai/v1/...``) and Azure's legacy deployments route (``/openai/deployments/<name>/...?api-version=``),
and records every request (path, headers, body) so tests can check what the SDK sent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    """One answer: text (streamed in small deltas), tool calls, an HTTP error, and an optional delay first."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    first_token_delay: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeOpenAI:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.requests: list[Recorded] = []
        self.default: Step | None = None  # answered when the script is used up (benchmarks)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # SSE ends when the connection closes

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path.split("?")[0].endswith("/embeddings"):  # answered by rule, not from the script
                    return self._json(_embeddings(body))
                with fake._lock:
                    step = fake.steps.pop(0) if fake.steps else fake.default
                if step is None or not self.path.split("?")[0].endswith("/chat/completions"):
                    return self._error(500, "no scripted answer left")
                time.sleep(step.delay)
                if step.status != 200:
                    return self._error(step.status, "scripted failure", step.retry_after)
                if not body.get("stream"):
                    return self._json(_completion(step, body.get("model", "fake")))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                time.sleep(step.first_token_delay)
                for chunk in _chunks(step, body.get("model", "fake")):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _json(self, value: dict[str, Any]) -> None:
                payload = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str, retry_after: float | None = None) -> None:
                payload = json.dumps({"error": {"message": message, "type": "server_error", "code": None}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if retry_after is not None:
                    self.send_header("Retry-After", f"{retry_after:g}")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *steps: Step) -> None:
        with self._lock:
            self.steps.extend(steps)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for a text (not a meaning: the contract is the wire format)."""
    import hashlib
    import math

    raw = [b - 128 for b in hashlib.sha256(text.encode()).digest() * (dimensions // 32 + 1)][:dimensions]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    texts = body.get("input") if isinstance(body.get("input"), list) else [body.get("input", "")]
    dimensions = int(body.get("dimensions") or 8)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": fake_vector(str(t), dimensions)}
            for i, t in enumerate(texts)
        ],
        "model": body.get("model", "fake-embedding"),
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }


def _completion(step: Step, model: str) -> dict[str, Any]:
    """A whole (not streamed) answer: text only."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": step.text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunks(step: Step, model: str) -> list[dict[str, Any]]:
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    if step.tool_calls:
        for index, (name, arguments) in enumerate(step.tool_calls):
            call = {"index": index, "id": f"call_{index}", "type": "function"}
            chunks.append(_chunk(model, {"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]}))
            raw = json.dumps(arguments)
            for start in range(0, len(raw), 16):
                piece = {"index": index, "function": {"arguments": raw[start : start + 16]}}
                chunks.append(_chunk(model, {"tool_calls": [piece]}))
        chunks.append(_chunk(model, {}, "tool_calls"))
        return chunks
    words = step.text.split(" ")
    for index, word in enumerate(words):
        chunks.append(_chunk(model, {"content": word if index == 0 else f" {word}"}))
    chunks.append(_chunk(model, {}, "stop"))
    return chunks
