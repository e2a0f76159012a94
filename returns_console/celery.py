"""The Celery app: Redis broker, commit tasks that survive a worker dying mid-task."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "returns_console.settings")


def broker_transport_options(visibility_timeout: int) -> dict[str, int]:
    """Redis transport: a dead worker's unacked task is redelivered ``visibility_timeout`` s after delivery.

    Kombu sweeps for such tasks every interval x throttle seconds (100 s by default); sweeping at a third of
    the timeout keeps recovery close to the timeout itself, and one sweep is a single sorted-set query. A sweep
    holds a lock in Redis that a worker killed mid-sweep leaves behind until it expires (300 s by default: no
    task was redelivered for that long); held as long as a sweep interval, a second sweep at worst restores a
    task twice, which the idempotent commit absorbs.
    """
    sweep_seconds = max(1, min(10, visibility_timeout // 3))
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": sweep_seconds,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": sweep_seconds,
    }


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
    broker_transport_options=broker_transport_options(int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))),
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


_background: list = []  # the heartbeat and the commit sweep of this worker


@worker_ready.connect
def _start_background(sender: object = None, **_: object) -> None:
    from returns_console.commit_sweep import CommitSweep
    from returns_console.worker_heartbeat import Heartbeat

    _background[:] = [Heartbeat(getattr(sender, "hostname", None)), CommitSweep()]
    for job in _background:
        job.start()


@worker_shutdown.connect
def _stop_background(**_: object) -> None:
    for job in _background:
        job.stop()
