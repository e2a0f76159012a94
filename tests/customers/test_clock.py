"""One clock for the app, its processes and its tests; the store's calendar in the store's time zone."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from customers import clock
from customers.demo import SEED_CUSTOMER_ID, SEED_ORDER_ID
from customers.domain import Resolution, Shipping
from customers.models import AuditAction, AuditEntry
from customers.policy import DEFAULT_POLICY
from customers.services.assessment import customer_overview
from customers.services.commit import shipping_arrangement
from tests.clock import CALENDAR, PinnedDay, StoreDay
from tests.processes import ROOT, app_env


@pytest.mark.parametrize("day", [d for d in CALENDAR if d.store_date], ids=lambda d: d.name)
def test_the_fixed_days_are_the_edges_they_claim(day: StoreDay):
    """The calendar's own arithmetic: each fixed day falls where its comment says."""
    moment = day.moment(datetime.now(UTC))
    zone = ZoneInfo(day.zone)
    assert moment.astimezone(zone).date() == day.store_date
    if day.name.startswith("dst-"):
        start = datetime.combine(day.store_date, time(0), tzinfo=zone)
        end = datetime.combine(day.store_date, time(23, 59), tzinfo=zone)
        assert start.utcoffset() != end.utcoffset(), "not a day the clocks change"
        assert moment.date() != day.store_date, "the store's day should differ from UTC's"


@pytest.mark.any_day
def test_the_app_reads_the_days_clock(store_day: PinnedDay):
    assert abs(clock.now() - store_day.moment) < timedelta(seconds=5)
    assert clock.now().tzinfo is not None
    assert clock.store_today() == store_day.moment.astimezone(ZoneInfo(store_day.day.zone)).date()
    if store_day.day.store_date:
        assert clock.store_today() == store_day.day.store_date


@pytest.mark.any_day
def test_a_courier_comes_on_the_stores_next_working_day(store_day: PinnedDay):
    _, instructions = shipping_arrangement("RET-1", Shipping.PICKUP, Resolution.FULL_REFUND, clock.now())
    day = clock.store_today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    assert f"collect the parcel on {day.isoformat()}" in instructions


@pytest.mark.any_day
@pytest.mark.django_db
def test_stored_times_come_from_the_app_clock(store_day: PinnedDay):
    entry = AuditEntry.objects.create(action=AuditAction.MESSAGE, actor_label="test", note="a stored time")
    assert abs(entry.created_at - clock.now()) < timedelta(seconds=5)


@pytest.mark.any_day
async def test_a_child_process_seeds_on_the_same_calendar_as_the_app(
    repo, cosmos_service, cosmos_database, redis_url, tmp_path
):
    """`seed_demo` in its own process (as `make run` and the live tests run it), then the seed scenario read
    here: both count from the same day."""
    env = {**os.environ, **app_env(tmp_path, redis_url, cosmos_service, cosmos_database)}
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *command], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
    overview = await customer_overview(repo, SEED_CUSTOMER_ID, DEFAULT_POLICY, clock.store_today())
    days = [(v.line.name, v.eligibility.days_left) for v in overview.lines if v.order.order_id == SEED_ORDER_ID]
    assert days == [("Ultra HD Smart Display", 10), ("Smart Home Hub", 25), ("USB-C Cable 6ft (3-Pack)", 25)]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CLOCK_OFFSET_SECONDS", "tomorrow", "CLOCK_OFFSET_SECONDS must be a number of seconds"),
        ("CLOCK_OFFSET_SECONDS", "nan", "CLOCK_OFFSET_SECONDS must be a number of seconds"),
        ("CLOCK_OFFSET_SECONDS", "1e300", "CLOCK_OFFSET_SECONDS must be a number of seconds"),
        ("STORE_TIMEZONE", "Mars/Olympus_Mons", "STORE_TIMEZONE must be an IANA time zone"),
    ],
)
def test_a_bad_clock_setting_stops_the_start_with_a_reason(variable: str, value: str, message: str):
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={**os.environ, variable: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert message in done.stderr


def test_the_clock_refuses_naive_moments():
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.offset_to(datetime(2027, 1, 1))
    assert clock.offset_to(datetime.now(UTC) + timedelta(days=1)) == pytest.approx(86400, abs=5)
