"""The app's one clock, and the store's calendar.

Every time the app stores or compares (return windows, decision and commit times, thread items, demo delivery
dates) comes from ``now()``, so the rules, the data and the tests always agree on what day it is. The clock is the
system's, shifted by ``CLOCK_OFFSET_SECONDS`` (default 0): the same shift in every process (web, websockets,
worker), so a demo or a test can run on another day without the processes disagreeing about the time.

Return windows are whole days in the store's time zone (``STORE_TIMEZONE``), not the server's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(UTC) + timedelta(seconds=settings.CLOCK_OFFSET_SECONDS)


def store_today(moment: datetime | None = None) -> date:
    """The store's calendar day at ``moment`` (default: now)."""
    return (moment or now()).astimezone(store_zone()).date()


def start_of_store_day(day: date) -> datetime:
    """The instant the store's calendar day ``day`` begins: periods of whole store days start and end here."""
    return datetime.combine(day, time.min, tzinfo=store_zone())


def store_zone() -> ZoneInfo:
    return ZoneInfo(settings.STORE_TIMEZONE)


def offset_to(moment: datetime) -> float:
    """The ``CLOCK_OFFSET_SECONDS`` that makes the clock read ``moment`` now (a demo of another day, a test)."""
    if moment.tzinfo is None:
        raise ValueError("the clock only takes timezone-aware moments")
    return (moment - datetime.now(UTC)).total_seconds()
