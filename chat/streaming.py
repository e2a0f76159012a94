"""A streamed answer's bytes, written as they become ready rather than one write per event.

A guided turn makes ~10-20 SSE events (its text streamed in pieces, as a model streams tokens, then the items),
all between two waits for I/O. Each written on its own was an ASGI message, a trip through Daphne and Twisted and a
send() on the socket, and a read by the client: about a twentieth of the web's CPU per turn went there. Here the
turn runs as a task of its own and the response drains what is ready each time it wakes: what the turn makes
between two waits leaves together, and the order and every byte stay as they were. A model's slow tokens still
leave one by one, as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator

_END = object()


async def coalesced(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` joined into one piece per wake-up. The turn goes on in its own task; if the response stops early
    (the client left), the task is cancelled there and waited for, so the turn's own clean-up runs as it would
    have (a turn cut short keeps what it showed: chat.server)."""
    ready: asyncio.Queue[object] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for chunk in chunks:
                ready.put_nowait(chunk)
        except BaseException as failure:  # re-raised by the response, where the caller handles it
            ready.put_nowait(failure)
            if isinstance(failure, asyncio.CancelledError):
                raise
        finally:
            ready.put_nowait(_END)

    producer = asyncio.get_running_loop().create_task(produce())
    try:
        while True:
            batch = [await ready.get()]
            while not ready.empty():
                batch.append(ready.get_nowait())
            pieces: list[bytes] = []
            for item in batch:
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    if pieces:
                        yield b"".join(pieces)
                    raise item
                pieces.append(item)  # type: ignore[arg-type]
            if pieces:
                yield b"".join(pieces)
            if item is _END:
                return
    finally:
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
