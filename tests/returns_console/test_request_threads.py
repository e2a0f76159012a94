"""Each HTTP request's sync work runs on a thread lent from a pool, not on one made (and joined) per request.

Starting a thread holds the event loop until the thread is scheduled; with a pool, threads are made only when
more requests are in flight at once than ever before."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished

from returns_console.request_threads import PooledThreadsASGIHandler, RequestThreads


async def _sync_thread() -> int:
    return await sync_to_async(threading.get_ident)()


async def test_one_request_uses_one_thread_and_the_next_request_reuses_it():
    threads = RequestThreads()
    async with threads.lend():
        first = {await _sync_thread() for _ in range(5)}
    async with threads.lend():
        second = await _sync_thread()
    assert len(first) == 1 and first == {second}
    assert second != threading.get_ident()


async def test_requests_in_flight_together_get_threads_of_their_own():
    threads = RequestThreads()
    inside = asyncio.Barrier(3)

    async def request() -> int:
        async with threads.lend():
            await inside.wait()  # all three hold a thread at once
            return await _sync_thread()

    assert len(set(await asyncio.gather(*(request() for _ in range(3))))) == 3


async def test_threads_started_ahead_serve_the_first_requests_without_starting_one():
    threads = RequestThreads(started=2)
    before = threading.active_count()
    inside = asyncio.Barrier(2)

    async def request() -> int:
        async with threads.lend():
            await inside.wait()
            return await _sync_thread()

    assert len(set(await asyncio.gather(request(), request()))) == 2
    assert threading.active_count() == before


async def test_after_a_burst_only_max_idle_threads_are_kept():
    threads = RequestThreads(max_idle=2)
    inside = asyncio.Barrier(5)

    async def request() -> None:
        async with threads.lend():
            await inside.wait()
            await _sync_thread()

    await asyncio.gather(*(request() for _ in range(5)))
    assert len(threads._idle) == 2


@pytest.mark.django_db(transaction=True)
async def test_the_apps_http_requests_finish_on_a_reused_thread(services_settings):
    from returns_console.asgi import django_asgi_app

    assert isinstance(django_asgi_app, PooledThreadsASGIHandler)
    finished_on: list[threading.Thread] = []  # the threads themselves: an ident can be reused once one ends

    def note(**kwargs: object) -> None:
        finished_on.append(threading.current_thread())

    request_finished.connect(note, dispatch_uid="test-request-threads")
    try:
        for _ in range(3):
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/chat/",
                "query_string": b"",
                "headers": [(b"host", b"localhost")],
                "http_version": "1.1",
                "scheme": "http",
                "server": ("localhost", 80),
                "client": ("127.0.0.1", 5000),
            }
            app = ApplicationCommunicator(django_asgi_app, scope)
            await app.send_input({"type": "http.request", "body": b"", "more_body": False})
            start = await app.receive_output(5)
            assert start["status"] == 200
            while (await app.receive_output(5)).get("more_body"):
                pass
            await app.wait(5)
    finally:
        request_finished.disconnect(dispatch_uid="test-request-threads")
    assert len(finished_on) == 3 and finished_on[0] is finished_on[1] is finished_on[2]
