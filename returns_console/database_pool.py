"""PostgreSQL connections from a pool in each process, safe across fork.

Under ASGI, Django cannot keep a connection per thread between requests, so with PostgreSQL every request
opened its own connection: a TCP (on Azure, TLS) handshake, a backend process started, the session set up.
Measured on this machine (bench/load.py --database-url, 40 customers, back to back) that cost PostgreSQL
11.95 ms of CPU per turn against 9.19 ms pooled, and the web 17.3 against 16.9 ms; it also let 200 busy
customers open more connections than the server allows. Django (5.1+) lends connections from psycopg_pool when
``OPTIONS["pool"]`` is set.

A pool holds sockets and threads. A forked child (a Celery prefork worker, which Celery may start again at
any time from a parent whose commit sweep has used the database) must not hand the parent's sockets out as
its own, nor close them (closing sends the server a goodbye on the parent's sessions): it forgets the
inherited pools and keeps them from the garbage collector, then builds its own on first use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from returns_console.environment import env_int

DEFAULT_MAX_SIZE = 10
DEFAULT_TIMEOUT_SECONDS = 10.0

_inherited: list[Any] = []  # pools a forked child must neither use nor let be collected


def postgres_options(environ: Mapping[str, str], conn_max_age: int | None) -> dict[str, Any]:
    """OPTIONS for Django's PostgreSQL backend, read from the environment.

    ``DATABASE_POOL_MAX_SIZE`` connections at most per process (default 10; 0 turns the pool off and each
    request connects again, or keeps ``DATABASE_CONN_MAX_AGE``), ``DATABASE_POOL_MIN_SIZE`` kept open
    (default 2, at most the maximum), ``DATABASE_POOL_TIMEOUT`` seconds a request waits for a free connection
    before it fails (default 10).
    """
    max_size = env_int("DATABASE_POOL_MAX_SIZE", DEFAULT_MAX_SIZE, environ=environ)
    if max_size == 0:
        return {}
    if conn_max_age:
        raise ImproperlyConfigured(
            "DATABASE_CONN_MAX_AGE keeps connections per thread and DATABASE_POOL_MAX_SIZE pools them: "
            "set DATABASE_POOL_MAX_SIZE=0 to use DATABASE_CONN_MAX_AGE"
        )
    min_size = min(env_int("DATABASE_POOL_MIN_SIZE", 2, environ=environ), max_size)
    return {"pool": {"min_size": min_size, "max_size": max_size, "timeout": _timeout(environ)}}


def _timeout(environ: Mapping[str, str]) -> float:
    raw = environ.get("DATABASE_POOL_TIMEOUT", "").strip()
    try:
        timeout = float(raw) if raw else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        timeout = 0.0
    if not timeout > 0:  # also refuses nan
        raise ImproperlyConfigured(f"DATABASE_POOL_TIMEOUT must be a number of seconds above 0, not {raw!r}")
    return timeout


def _forget_inherited_pools() -> None:
    backend = sys.modules.get("django.db.backends.postgresql.base")
    if backend is None:
        return
    pools = backend.DatabaseWrapper._connection_pools
    _inherited.extend(pools.values())
    pools.clear()


def forget_pools_after_fork() -> None:
    """Register, once per process, that a forked child starts with no pools of its own."""
    if not getattr(forget_pools_after_fork, "registered", False):
        os.register_at_fork(after_in_child=_forget_inherited_pools)
        forget_pools_after_fork.registered = True  # type: ignore[attr-defined]
