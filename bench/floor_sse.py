"""The floor for bench/chat.py: a bare ASGI endpoint that answers a POST with two SSE events, served by the
same Daphne, so the benchmark can say how much the real chat adds on top of the server and the network."""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        return
    while True:  # drain the request body
        message = await receive()
        if not message.get("more_body"):
            break
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b'data: {"type":"progress_update","text":"..."}\n\n', "more_body": True}
    )
    await send({"type": "http.response.body", "body": b'data: {"type":"thread.item.done"}\n\n', "more_body": False})
