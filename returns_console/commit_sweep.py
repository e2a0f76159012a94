"""Every worker sweeps for stalled commits at start and then every COMMIT_SWEEP_INTERVAL_SECONDS.

A commit whose broker message was lost (Redis restarted with the message in it, a worker that died before the
redelivery bookkeeping) would otherwise leave its approval waiting forever. A short Redis lock lets one worker
sweep at a time; without Redis the sweep still runs (sending twice is harmless, the commit is idempotent).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis
from django.conf import settings
from django.db import close_old_connections

from customers.services.commit_progress import resend_stalled_commits

logger = logging.getLogger(__name__)
LOCK_KEY = "returns:commit-sweep"


class CommitSweep:
    def __init__(self, interval: float | None = None) -> None:
        self.interval = interval if interval is not None else settings.COMMIT_SWEEP_INTERVAL_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _mine(self) -> bool:
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
            return bool(client.set(LOCK_KEY, "1", nx=True, ex=max(1, int(self.interval * 0.8))))
        except redis.RedisError:
            return True

    def _queued(self) -> int:
        """Messages waiting in the commit queue (a Redis list named after it); 0 when the broker does not say."""
        try:
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
            return int(client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
        except (redis.RedisError, ValueError):
            return 0

    def sweep_once(self) -> list[str]:
        if not self._mine():
            return []
        try:
            return resend_stalled_commits(queued=self._queued())
        finally:
            close_old_connections()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # logged by the service; the sweep must outlive a bad minute
                sent = self.sweep_once()
                if sent:
                    logger.warning("commit sweep re-sent %d stalled commit(s)", len(sent))
            self._stop.wait(self.interval)
