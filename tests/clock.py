"""The days the date-sensitive tests run on, so the suite can never again depend on the day it runs.

A test marked ``@pytest.mark.any_day`` runs once on each day below, with the app's clock (``customers.clock``,
in this process and in every process the test starts) and the store's time zone set for that day. The demo data,
the factories and the app read the same clock, so a test's expectations hold on any day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from customers import clock


@dataclass(frozen=True)
class StoreDay:
    name: str
    moment: Callable[[datetime], datetime]  # given the clock before the test, when it should read
    zone: str = "UTC"
    store_date: date | None = None  # the store's calendar day then, where the day is fixed


@dataclass(frozen=True)
class PinnedDay:
    """A day as a test runs on it: the moment the clock was set to at the test's start."""

    day: StoreDay
    moment: datetime


def _from_now(days: int) -> Callable[[datetime], datetime]:
    return lambda before: before + timedelta(days=days)


def _at(*parts: int) -> Callable[[datetime], datetime]:
    return lambda _: datetime(*parts, tzinfo=UTC)


def pin(day: StoreDay) -> PinnedDay:
    """Where the clock must be for ``day``; the caller sets settings and environment to it."""
    return PinnedDay(day, day.moment(clock.now()))


CALENDAR: tuple[StoreDay, ...] = (
    StoreDay("today", _from_now(0)),
    StoreDay("tomorrow", _from_now(1)),
    StoreDay("in-45-days", _from_now(45)),
    StoreDay("in-400-days", _from_now(400)),
    StoreDay("leap-day", _at(2028, 2, 29, 12, 0), store_date=date(2028, 2, 29)),
    # Late on the day clocks go forward in New York: the store's day is still the 14th, UTC's is the 15th.
    StoreDay("dst-starts-new-york", _at(2027, 3, 15, 3, 30), "America/New_York", date(2027, 3, 14)),
    # Late on the day clocks go back in New York (a 25-hour day).
    StoreDay("dst-ends-new-york", _at(2027, 11, 8, 4, 30), "America/New_York", date(2027, 11, 7)),
    # Early on the day clocks go forward in Auckland: the store is already on the 26th while UTC is on the 25th.
    StoreDay("dst-starts-auckland", _at(2027, 9, 25, 14, 30), "Pacific/Auckland", date(2027, 9, 26)),
)
