"""A customer who sends faster than the rate limit is told politely in the page, and keeps what they typed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_chat_browser import _say, _sign_in, _wait_for_card
from tests.live import LiveStack, live_stack

pytestmark = pytest.mark.rate_limits


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    tight = {"CHAT_RATE_BURST": "2", "CHAT_RATE_PER_MINUTE": "2"}  # a third message within 30 s is refused
    with live_stack(tmp_path_factory.mktemp("limits"), redis_url, cosmos_service, tight) as running:
        yield running


def test_a_message_over_the_rate_limit_is_explained_and_goes_back_in_the_box(
    stack: LiveStack, browser: Browser, shots: Path
):
    import redis

    for key in redis.Redis.from_url(stack.env["REDIS_URL"]).scan_iter("returns:chatlimit:bucket:CUST-1001"):
        redis.Redis.from_url(stack.env["REDIS_URL"]).delete(key)
    page = browser.new_page()
    _sign_in(page, stack.url)
    expect(page.get_by_label("Message")).to_have_attribute("maxlength", "4000")
    _say(page, "I want to return some items")
    _wait_for_card(page, "Which item would you like to return?")
    _say(page, "the smart home hub")
    _wait_for_card(page, "Why are you returning")
    _say(page, "it was completely damaged")
    notice = page.locator(".notice").last
    expect(notice).to_contain_text("You're sending messages faster than we can read them. Please wait")
    expect(page.get_by_label("Message")).to_have_value("it was completely damaged")
    expect(page.locator(".bubble.user", has_text="it was completely damaged")).to_have_count(0)
    page.screenshot(path=shots / "chat-rate-limited.png")
    page.close()
