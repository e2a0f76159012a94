"""Daphne on uvloop: ``python -m returns_console.serve [daphne's arguments]``.

Daphne runs Twisted on an asyncio loop it makes when imported; with uvloop's policy set first, that loop is
uvloop's (libuv, in C), which schedules callbacks, timers and the Cosmos client's sockets for a fraction of the
pure-Python loop's CPU. EVENT_LOOP=asyncio keeps the standard loop (a fallback, and for comparing the two).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daphne.cli import CommandLineInterface


def use_fast_loop() -> str:
    """Install uvloop's event-loop policy unless EVENT_LOOP=asyncio; the name of the loop in use."""
    if os.environ.get("EVENT_LOOP", "uvloop").strip().lower() == "asyncio":
        return "asyncio"
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def keep_bodies_raw() -> None:
    """Daphne's requests leave a POST's body to the application. Twisted otherwise reads every POST's
    Content-Type with the email package and parses a form body into ``request.args``, which Daphne never reads
    (ASGI gets the raw body; Django parses forms itself): ~1.3% of a web process's CPU at 200 customers (py-spy).
    ``parsePOSTFormSubmission`` is Twisted's own switch for this; Daphne just does not pass it."""
    from daphne import http_protocol

    if getattr(http_protocol.WebRequest, "keeps_body_raw", False):
        return

    class RawBodyRequest(http_protocol.WebRequest):
        keeps_body_raw = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs, parsePOSTFormSubmission=False)

    http_protocol.WebRequest = RawBodyRequest  # what Daphne's HTTPFactory makes each request with


def prepared_daphne() -> type[CommandLineInterface]:
    """Daphne's command line, set up as every process of ours runs it (uvloop, raw bodies)."""
    use_fast_loop()
    from daphne.cli import CommandLineInterface  # imported after the policy: it makes its loop on import

    keep_bodies_raw()
    return CommandLineInterface


def main() -> None:
    prepared_daphne().entrypoint()


if __name__ == "__main__":
    main()
