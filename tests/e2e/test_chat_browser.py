"""A customer in a real browser (Playwright driving Debian's Chromium): the seed scenario typed, and clicked.

Screenshots of every step go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import LiveStack, live_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("e2e"), redis_url, cosmos_service) as running:
        yield running


def _sign_in(page: Page, url: str, email: str = "rjohnson@company.com", order: str = "ORD-79001") -> None:
    page.goto(f"{url}/chat/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Order number").fill(order)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#chat[data-loaded=true]")).to_be_visible()  # and its latest conversation loaded


def _say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.keyboard.press("Enter")


def _wait_for_card(page: Page, text: str) -> None:
    expect(page.locator(".card").filter(has_text=text).last).to_be_visible(timeout=15000)


def _new_conversation(page: Page) -> None:
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".item.welcome")).to_be_visible()


def test_seed_scenario_typed_at_phone_width(stack: LiveStack, browser: Browser, shots: Path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    _sign_in(page, stack.url)
    page.screenshot(path=shots / "chat-01-signed-in.png")
    _say(page, "I want to return some items")
    _wait_for_card(page, "Which item would you like to return?")
    expect(page.locator(".badge", has_text="Platinum")).to_be_visible()
    # On a phone what can be returned comes first; the rest is folded under its count, closed.
    folded = page.locator(".card details.folded").last
    expect(folded.locator("summary")).to_have_text(re.compile(r"^Not returnable \(\d+\)$"))
    assert folded.get_attribute("open") is None
    expect(folded.get_by_text("65in OLED TV")).to_be_hidden()
    expect(page.locator(".card").last.get_by_role("button", name=re.compile("Return This")).first).to_be_visible()
    page.screenshot(path=shots / "chat-02-items.png", full_page=True)
    folded.locator("summary").click()
    expect(folded.get_by_text("65in OLED TV")).to_be_visible()
    expect(folded).not_to_contain_text("returnable ·")  # no "1 of 1 returnable" beside "Not returnable"
    _say(page, "I want to return Smart Home Hub from order ORD-79001")
    _wait_for_card(page, "Why are you returning")
    _say(page, "it was completely damaged")
    _wait_for_card(page, "How would you like this resolved?")
    expect(page.locator(".card").last).to_contain_text("$98.99 store credit")
    page.screenshot(path=shots / "chat-03-resolutions.png")
    _say(page, "I would like a STORE_CREDIT")
    _wait_for_card(page, "How will you send it back?")
    _say(page, "prepaid label")
    _wait_for_card(page, "Your return")
    expect(page.locator(".card").last).to_contain_text("$98.99")
    page.screenshot(path=shots / "chat-04-summary.png")
    page.locator(".card").last.get_by_role("button", name="Confirm").click()
    _wait_for_card(page, "Waiting for review")
    page.screenshot(path=shots / "chat-05-waiting-for-review.png")
    # A reload restores the conversation from the server.
    page.reload()
    _wait_for_card(page, "Waiting for review")
    expect(page.locator(".bubble.user", has_text="it was completely damaged")).to_be_visible()
    context.close()


def test_seed_scenario_clicked_with_keyboard_and_feedback(stack: LiveStack, browser: Browser, shots: Path):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    _sign_in(page, stack.url)
    _new_conversation(page)  # signing in continues the previous test's conversation
    page.get_by_role("button", name="Start a return").click()
    _wait_for_card(page, "Which item would you like to return?")
    row = page.locator(".card .row").filter(has_text="Smart Home Hub").last
    row.get_by_role("button", name="Return This").focus()
    page.keyboard.press("Enter")
    _wait_for_card(page, "Why are you returning")
    page.locator(".card").last.get_by_role("button", name="Damaged/Defective").click()
    _wait_for_card(page, "How would you like this resolved?")
    page.locator(".card").last.locator(".row").filter(has_text="Store Credit").get_by_role(
        "button", name="Choose"
    ).click()
    _wait_for_card(page, "How will you send it back?")
    page.locator(".card").last.locator(".row").filter(has_text="Prepaid Shipping Label").get_by_role("button").click()
    _wait_for_card(page, "Your return")
    page.locator(".card").last.get_by_role("button", name="Confirm").click()
    _wait_for_card(page, "Waiting for review")
    helpful = page.get_by_role("button", name="Helpful", exact=True).last
    helpful.click()
    expect(page.get_by_text("Thanks for the feedback")).to_be_visible()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Not helpful", exact=True).last).not_to_have_attribute(
        "aria-pressed", "true"
    )
    page.screenshot(path=shots / "chat-06-desktop-clicked.png", full_page=True)
    # Answered widgets are a record, not buttons that still act.
    expect(page.locator(".card").filter(has_text="Which item").get_by_role("button").first).to_be_disabled()
    context.close()


def test_signing_in_again_on_another_device_continues_the_latest_conversation(
    stack: LiveStack, browser: Browser, shots: Path
):
    kenji = {"email": "kenji.tanaka@example.com", "order": "ORD-79119"}
    laptop = browser.new_context(viewport={"width": 1100, "height": 900})
    page = laptop.new_page()
    _sign_in(page, stack.url, **kenji)
    _say(page, "Where is my return?")
    expect(page.locator(".bubble.assistant", has_text="don't have any returns")).to_be_visible(timeout=15000)
    _say(page, "I want to return some items")
    _wait_for_card(page, "Which item would you like to return?")

    # Another device: the same conversation, its whole history, and it carries on from where it was.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    other = phone.new_page()
    _sign_in(other, stack.url, **kenji)
    expect(other.locator(".bubble.user", has_text="Where is my return?")).to_be_visible()
    _wait_for_card(other, "Which item would you like to return?")
    expect(other.locator(".item.welcome")).to_have_count(0)  # no fresh welcome
    other.screenshot(path=shots / "chat-08-continued-on-a-phone.png")

    # A new conversation, then both in "Your conversations", newest first, named by what was said first.
    _new_conversation(other)
    _say(other, "can opened items be returned?")
    expect(other.locator(".bubble.assistant").last).to_contain_text("policy", timeout=15000)
    other.get_by_role("button", name="Conversations").click()
    rows = other.locator("#thread-list .thread-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Can opened items be returned?")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    expect(rows.nth(1)).to_contain_text("Where is my return?")
    other.screenshot(path=shots / "chat-09-your-conversations.png")
    rows.nth(1).click()
    _wait_for_card(other, "Which item would you like to return?")
    expect(other.locator(".bubble.user", has_text="can opened items")).to_have_count(0)

    # The laptop, reloaded, stays on the conversation it had open; signing in afresh opens the newest.
    page.reload()
    expect(page.locator(".bubble.user", has_text="Where is my return?")).to_be_visible()
    fresh = browser.new_context().new_page()
    _sign_in(fresh, stack.url, **kenji)
    expect(fresh.locator(".bubble.user", has_text="can opened items be returned?")).to_be_visible()
    for context in (laptop, phone, fresh.context):
        context.close()


def test_your_returns_button_lists_the_customers_returns(stack: LiveStack, browser: Browser):
    page = browser.new_page(viewport={"width": 900, "height": 800})
    _sign_in(page, stack.url, "emily.davis@example.com", "ORD-79124")
    page.get_by_role("button", name="Your returns").click()
    expect(page.locator(".bubble.user", has_text="Show my returns")).to_be_visible()
    expect(page.locator(".bubble.assistant", has_text="don't have any returns")).to_be_visible(timeout=15000)
    page.close()


def test_offline_the_message_is_kept_and_retry_sends_it_once(stack: LiveStack, browser: Browser, shots: Path):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    _sign_in(page, stack.url, "olusegun.adeyemi@example.com", "ORD-79125")
    _new_conversation(page)
    context.set_offline(True)
    _say(page, "the charger from ORD-79125 stopped working")
    failure = page.locator(".notice.error")
    expect(failure).to_contain_text("You're offline. Your message is kept")
    expect(page.get_by_label("Message")).to_have_value("the charger from ORD-79125 stopped working")
    assert "Failed to fetch" not in page.locator("#messages").inner_text()
    page.screenshot(path=shots / "chat-10-offline.png")
    context.set_offline(False)
    failure.get_by_role("button", name="Retry").click()
    _wait_for_card(page, "How would you like this resolved?")
    expect(page.locator(".bubble.user", has_text="stopped working")).to_have_count(1)
    expect(page.get_by_label("Message")).to_have_value("")

    # The line drops once while a click is on its way: the card's buttons work again, and Retry sends it.
    dropped: list[str] = []

    def drop_once(route) -> None:  # type: ignore[no-untyped-def]
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/chatkit", drop_once)
    page.locator(".card").last.get_by_role("button").first.click()
    failure = page.locator(".notice.error").last
    expect(failure).to_contain_text("We couldn't reach our server")
    failure.get_by_role("button", name="Retry").click()
    _wait_for_card(page, "How will you send it back?")
    assert len(dropped) == 1
    context.close()


def test_at_the_end_the_customer_rates_the_conversation(stack: LiveStack, browser: Browser, shots: Path):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, stack.url, "lucas.muller@example.com", "ORD-79131")
    _say(page, "is there a restocking fee?")
    expect(page.locator(".bubble.assistant").last).to_contain_text("Anything else?", timeout=15000)
    _say(page, "thanks, that's all")
    card = page.locator(".card").filter(has_text="How did we do?").last
    expect(card).to_be_visible(timeout=15000)
    page.screenshot(path=shots / "chat-11-rating.png")
    card.get_by_role("button", name="4").click()
    expect(page.locator(".bubble.assistant").last).to_contain_text("rating us 4 out of 5", timeout=15000)
    _say(page, "clear answers, thank you")
    expect(page.locator(".bubble.assistant").last).to_contain_text("passed that on", timeout=15000)
    page.close()


def test_a_spanish_browser_gets_the_chat_in_spanish(stack: LiveStack, browser: Browser, shots: Path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-ES")
    page = context.new_page()
    page.goto(f"{stack.url}/chat/")
    expect(page.get_by_role("heading", name="Iniciar una devolución")).to_be_visible()
    page.get_by_label("Correo electrónico").fill("sofia.rossi@example.com")
    page.get_by_label("Número de pedido").fill("ORD-79118")
    page.get_by_role("button", name="Continuar").click()
    expect(page.locator("#chat[data-loaded=true]")).to_be_visible()
    page.get_by_role("button", name="Iniciar una devolución").click()
    _wait_for_card(page, "¿Qué artículo quieres devolver?")
    expect(page.locator(".card").last.get_by_role("button", name=re.compile("Devolver este")).first).to_be_visible()
    expect(page.locator(".card").last).to_contain_text(
        re.compile(r"Quedan? \d+ días? para devolverlo \(hasta el \d+ \w+\)")
    )
    page.screenshot(path=shots / "chat-12-spanish.png")
    context.close()


def test_wrong_pair_shows_a_neutral_error(stack: LiveStack, browser: Browser):
    page = browser.new_page()
    page.goto(f"{stack.url}/chat/")
    page.get_by_label("Email").fill("rjohnson@company.com")
    page.get_by_label("Order number").fill("ORD-79003")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text("We couldn't find an order with that email and order number.")
    page.close()


def _push_from_outside(stack: LiveStack, thread_id: str, text: str) -> None:
    """What a staff reply does: an agent signs in and posts a message into the thread through the console API."""
    import asyncio
    import json
    from concurrent.futures import ThreadPoolExecutor

    import aiohttp
    from yarl import URL

    async def push() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as staff:
            async with staff.get(f"{stack.url}/admin/login/") as page:
                await page.read()
            token = staff.cookie_jar.filter_cookies(URL(stack.url))["csrftoken"].value
            form = {"username": "agent", "password": stack.env["DEMO_PASSWORD"], "csrfmiddlewaretoken": token}
            async with staff.post(f"{stack.url}/admin/login/", data=form, allow_redirects=False) as signed:
                assert signed.status == 302
            token = staff.cookie_jar.filter_cookies(URL(stack.url))["csrftoken"].value
            url = f"{stack.url}/console/api/conversations/{thread_id}/messages"
            headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
            async with staff.post(url, data=json.dumps({"text": text}), headers=headers) as sent:
                assert sent.status == 200, await sent.text()

    # Playwright's sync API owns this thread's event loop; run ours beside it.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, push()).result(timeout=30)


def test_messages_pushed_by_the_server_appear_without_reload(stack: LiveStack, browser: Browser, shots: Path):
    page = browser.new_page(viewport={"width": 900, "height": 800})
    _sign_in(page, stack.url)
    _new_conversation(page)
    _say(page, "I want to return some items")
    _wait_for_card(page, "Which item would you like to return?")
    thread_id = page.evaluate("sessionStorage.getItem('returns.thread.CUST-1001')")
    assert thread_id
    expect(page.locator("body[data-live=on]")).to_be_attached()  # the update socket is open
    _push_from_outside(stack, thread_id, "Hi Robert, this is Dana from support. I can help too.")
    expect(page.locator(".bubble.staff", has_text="Dana from support")).to_be_visible(timeout=10000)  # an agent's
    page.screenshot(path=shots / "chat-07-pushed-message.png")
    page.close()


def test_the_pages_policy_blocks_inline_code_and_the_tests_see_it(
    stack: LiveStack, browser: Browser, no_policy_violations: list[str]
):
    """Every browser test fails on a Content-Security-Policy violation (tests/e2e/conftest.py): prove it notices."""
    page = browser.new_page()
    page.goto(f"{stack.url}/chat/")
    page.evaluate(
        "() => document.body.append(Object.assign(document.createElement('script'), {text: 'window.ran = 1'}))"
    )
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("() => window.ran") is None  # the inline script never ran
    page.wait_for_timeout(200)
    assert any("script-src" in text for text in no_policy_violations), no_policy_violations
    no_policy_violations.clear()  # seen, as intended
    page.close()


def test_a_reason_read_in_the_customers_words_is_offered_first(stack: LiveStack, browser: Browser, shots: Path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    _sign_in(page, stack.url)
    _new_conversation(page)
    _say(page, "return the hub from ORD-79001, it keeps losing its connection every evening")
    _wait_for_card(page, "Why are you returning")
    expect(page.locator(".bubble").filter(has_text="It sounds like “Damaged/Defective”").last).to_be_visible()
    first = page.locator(".card").last.get_by_role("button").first
    expect(first).to_have_text("Damaged/Defective")
    expect(first).to_have_class(re.compile(r"\bprimary\b"))
    page.screenshot(path=shots / "chat-13-suggested-reason.png")
    _say(page, "yes")
    _wait_for_card(page, "How would you like this resolved?")
    context.close()
