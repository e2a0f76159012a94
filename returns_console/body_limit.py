"""Request bodies are limited however they arrive, before Django reads them.

Django's ASGI handler reads the whole body (to a temporary file) before any view runs, and a body sent with
``Transfer-Encoding: chunked`` carries no Content-Length for a view to check. A 1.1 MB chunked message to
``/chatkit`` went straight through a 64 KB check in the view. This ASGI wrapper counts the bytes as they arrive,
answers 413 as soon as a request passes its path's limit (or at once when its Content-Length says it will), and
hands the inner application a body that is already within bounds.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_for(path: str, limits: Mapping[str, int], default: int) -> int:
    """The limit of the longest prefix in ``limits`` that ``path`` starts with, else ``default``."""
    best = ""
    for prefix in limits:
        if path.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return limits[best] if best else default


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": "too_large", "message": f"Requests to this address are limited to {limit // 1024} KB."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: HTTP bodies over the path's limit get 413 and never reach the application."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default: int) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""), self.limits, self.default)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        # Read the body here (Django would read all of it anyway before the view), stopping at the limit.
        early: list[Message] = []
        size = 0
        while True:
            message = await receive()
            early.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: the application sees it as it would have
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return early.pop(0) if early else await receive()

        await self.app(scope, replay, send)
