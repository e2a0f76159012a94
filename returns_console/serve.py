"""Daphne on uvloop: ``python -m returns_console.serve [daphne's arguments]``.

Daphne runs Twisted on an asyncio loop it makes when imported; with uvloop's policy set first, that loop is
uvloop's (libuv, in C), which schedules callbacks, timers and the Cosmos client's sockets for a fraction of the
pure-Python loop's CPU. EVENT_LOOP=asyncio keeps the standard loop (a fallback, and for comparing the two).
"""

from __future__ import annotations

import asyncio
import os


def use_fast_loop() -> str:
    """Install uvloop's event-loop policy unless EVENT_LOOP=asyncio; the name of the loop in use."""
    if os.environ.get("EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return "asyncio"
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def main() -> None:
    use_fast_loop()
    from daphne.cli import CommandLineInterface  # imported after the policy: it makes its loop on import

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
