"""Workers announce themselves in Redis every few seconds, so /healthz can tell if any is alive cheaply."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import redis
from django.conf import settings

WORKERS_KEY = "returns:workers"
INTERVAL_SECONDS = 5.0
STALE_AFTER_SECONDS = 20.0


def live_workers(client: redis.Redis) -> int:
    return int(client.zcount(WORKERS_KEY, time.time() - STALE_AFTER_SECONDS, "+inf"))


class Heartbeat:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"{socket.gethostname()}:{threading.get_native_id()}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).zrem(WORKERS_KEY, self.name)

    def _beat(self) -> None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        while not self._stop.is_set():
            # Redis away: /healthz shows it; keep trying.
            with contextlib.suppress(redis.RedisError):
                client.zadd(WORKERS_KEY, {self.name: time.time()})
            self._stop.wait(INTERVAL_SECONDS)
