"""PostgreSQL connections come from a pool in each process, configured from the environment, safe across fork."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from returns_console.database_pool import postgres_options

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def test_postgresql_pools_ten_connections_a_process_by_default():
    assert postgres_options({}, conn_max_age=0) == {"pool": {"min_size": 2, "max_size": 10, "timeout": 10.0}}


def test_the_pool_is_sized_from_the_environment():
    environ = {"DATABASE_POOL_MAX_SIZE": "4", "DATABASE_POOL_MIN_SIZE": "9", "DATABASE_POOL_TIMEOUT": "2.5"}
    assert postgres_options(environ, conn_max_age=0) == {"pool": {"min_size": 4, "max_size": 4, "timeout": 2.5}}


def test_a_pool_of_zero_connects_per_request_or_keeps_conn_max_age():
    assert postgres_options({"DATABASE_POOL_MAX_SIZE": "0"}, conn_max_age=60) == {}


@pytest.mark.parametrize(
    ("environ", "conn_max_age", "says"),
    [
        ({}, 60, "DATABASE_POOL_MAX_SIZE=0"),
        ({"DATABASE_POOL_MAX_SIZE": "ten"}, 0, "whole number"),
        ({"DATABASE_POOL_MIN_SIZE": "-1"}, 0, "at least 0"),
        ({"DATABASE_POOL_TIMEOUT": "0"}, 0, "above 0"),
        ({"DATABASE_POOL_TIMEOUT": "soon"}, 0, "number of seconds above 0"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(environ, conn_max_age, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        postgres_options(environ, conn_max_age=conn_max_age)


def _run(script: str, database_url: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "returns_console.settings", "DEBUG": "true"}
        | {"DATABASE_URL": database_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_settings_keep_the_urls_own_options_beside_the_pool():
    said = _run(
        """
        import json, django
        django.setup()
        from django.conf import settings
        print(json.dumps(settings.DATABASES["default"]["OPTIONS"]))
        """,
        "postgres://someone@db.example:5432/returns?sslmode=require",
    )
    assert said == {"sslmode": "require", "pool": {"min_size": 2, "max_size": 10, "timeout": 10.0}}


FORK = """
    import gc, json, os, django
    django.setup()
    from django.db import connection

    def backend():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        connection.close()  # back to the pool
        return pid

    parent = backend()
    read, write = os.pipe()
    if os.fork() == 0:
        os.write(write, str(backend()).encode())
        connection.close_pool()  # the child's own pool, closed as Celery closes it after a task
        gc.collect()
        os._exit(0)
    os.waitpid(-1, 0)
    child = int(os.read(read, 64))
    print(json.dumps({"parent": parent, "child": child, "parent_again": backend()}))
"""


@pytest.mark.django_db
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: make test's PostgreSQL pass runs it")
def test_a_forked_worker_neither_borrows_nor_closes_its_parents_pooled_connections():
    """A Celery prefork child started again after the parent used the database shares its memory: handing out
    the parent's pooled session would interleave two processes' queries on one socket, and closing it would
    end the parent's session under it."""
    # one connection a process: the parent's next request gets the same session only if it survived
    said = _run(FORK, os.environ["DATABASE_URL"], DATABASE_POOL_MAX_SIZE="1")
    assert said["child"] != said["parent"]
    assert said["parent_again"] == said["parent"]  # the parent's session is alive and still its own


LENT = """
    import asyncio, json, django
    django.setup()
    from asgiref.sync import sync_to_async
    from django.db import connection
    from returns_console.request_threads import RequestThreads

    def backend():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    async def main():
        threads = RequestThreads()
        first_read, second_done = asyncio.Event(), asyncio.Event()

        async def streaming_turn():  # reads, then waits on other services with the request still open
            async with threads.lend():
                pid = await sync_to_async(backend)()
                first_read.set()
                await second_done.wait()
                return pid

        async def another_request():
            await first_read.wait()
            async with threads.lend():
                pid = await sync_to_async(backend)()
            second_done.set()
            return pid

        print(json.dumps(await asyncio.gather(streaming_turn(), another_request())))

    asyncio.run(main())
"""


@pytest.mark.django_db
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: make test's PostgreSQL pass runs it")
def test_a_request_gives_its_pooled_connection_back_between_database_calls():
    """A chat turn streams while it waits on Cosmos; holding its connection until the end would let a few dozen
    turns in flight drain the pool and make every other request wait (here: fail after 2 s)."""
    first, second = _run(LENT, os.environ["DATABASE_URL"], DATABASE_POOL_MAX_SIZE="1", DATABASE_POOL_TIMEOUT="2")
    assert first == second  # the one pooled connection served both


KEPT = """
    import asyncio, json, django
    django.setup()
    from asgiref.sync import sync_to_async
    from django.db import connection
    from returns_console.request_threads import RequestThreads

    def mark_the_session():  # a temporary table lives as long as its connection
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE this_session (x INTEGER)")

    def same_session():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_temp_master WHERE name = 'this_session'")
            return cursor.fetchone()[0] == 1

    async def main():
        async with RequestThreads().lend():
            await sync_to_async(mark_the_session)()
            print(json.dumps(await sync_to_async(same_session)()))

    asyncio.run(main())
"""


def test_without_a_pool_a_request_keeps_its_connection_between_calls(tmp_path):
    """SQLite (and PostgreSQL with DATABASE_POOL_MAX_SIZE=0) would connect again on every call if it were closed."""
    assert _run(KEPT, f"sqlite:///{tmp_path / 'db.sqlite3'}") is True
