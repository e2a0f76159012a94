"""The Celery app: Redis broker, commit tasks that survive a worker dying mid-task."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")

app = Celery("returns_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # A task is acknowledged only after it ran, and a worker that dies hands it back: at-least-once
    # delivery, made exactly-once by the idempotent commit.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))},
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


_heartbeat = None


@worker_ready.connect
def _start_heartbeat(sender: object = None, **_: object) -> None:
    global _heartbeat
    from returns_console.worker_heartbeat import Heartbeat

    _heartbeat = Heartbeat(getattr(sender, "hostname", None))
    _heartbeat.start()


@worker_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
