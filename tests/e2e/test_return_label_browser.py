"""The return label in a real browser (Playwright driving Debian's Chromium): reached from the chat's link, drawn
with its barcode and QR code under the page's Content-Security-Policy, and as it prints.

Screenshots go to test-output/screenshots/label-*.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from customers.cosmos.repository import open_repository
from customers.domain import ReturnRecord, Shipping
from customers.services.commit import commit_return
from tests.conftest import cosmos_config_for
from tests.customers.seeded import approval
from tests.customers.services.test_labels import decode_code128
from tests.e2e.test_accessibility import serious_violations
from tests.e2e.test_chat_browser import _say, _sign_in, _wait_for_card
from tests.live import LiveStack, live_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("label"), redis_url, cosmos_service) as running:
        yield running


@pytest.fixture(scope="module")
def committed(stack: LiveStack, cosmos_service) -> tuple[ReturnRecord, ReturnRecord]:  # type: ignore[no-untyped-def]
    """Robert's returns as the worker commits them, in the live stack's own database: a parcel and a store return."""

    async def commit() -> tuple[ReturnRecord, ReturnRecord]:
        async with open_repository(cosmos_config_for(cosmos_service, stack.env["COSMOS_DATABASE"])) as repo:
            parcel = await commit_return(repo, approval("e2e-label-parcel"))
            store = await commit_return(repo, approval("e2e-label-store", shipping=Shipping.RETURN_TO_STORE))
            return parcel.record, store.record

    # Playwright's sync API owns this thread's event loop; run ours beside it.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, commit()).result(timeout=60)


def _bars(page: Page) -> str:
    """The modules the browser drew in the barcode SVG, quiet zones stripped: what a scanner reads."""
    return page.evaluate(
        """() => {
            const svg = document.querySelector("svg.barcode");
            const width = svg.viewBox.baseVal.width;
            const cells = Array(width).fill("0");
            for (const bar of svg.querySelectorAll("g rect")) {
                const x = bar.x.baseVal.value, w = bar.width.baseVal.value;
                for (let i = x; i < x + w; i++) cells[i] = "1";
            }
            return cells.join("").slice(10, -10);
        }"""
    )


def test_the_chat_links_to_a_label_that_looks_like_a_shipping_label(
    stack: LiveStack, committed: tuple[ReturnRecord, ReturnRecord], browser: Browser, shots: Path
):
    parcel, _ = committed
    context = browser.new_context(viewport={"width": 1000, "height": 1100})
    chat = context.new_page()
    _sign_in(chat, stack.url)
    _say(chat, "where is my return?")
    _wait_for_card(chat, parcel.return_id)
    link = (
        chat.locator(".card").filter(has_text=parcel.return_id).last.get_by_role("link", name="Print your return label")
    )
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener")
    chat.screenshot(path=shots / "label-01-chat-link.png")
    with context.expect_page() as opened:
        link.click()
    page = opened.value
    page.wait_for_load_state()
    assert page.url == f"{stack.url}/chat/returns/{parcel.return_id}/label"

    expect(page.locator(".return-id").first).to_have_text(parcel.return_id)
    expect(page.locator("address")).to_contain_text("Manchester M17 1AB")
    barcode, qr = page.locator("svg.barcode"), page.locator("svg.qr")
    expect(barcode).to_be_visible()
    expect(qr).to_be_visible()
    assert decode_code128(_bars(page)) == parcel.tracking_number
    box = barcode.bounding_box()
    assert box and box["width"] >= 300 and box["height"] >= 80  # wide and tall enough for a scanner
    # The stylesheet applied: the return id is bold and the label sits inside a dashed cut line.
    assert int(page.locator(".return-id").first.evaluate("e => getComputedStyle(e).fontWeight")) >= 700
    assert page.locator(".label").evaluate("e => getComputedStyle(e).borderTopStyle") == "dashed"
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    expect(page.get_by_role("link", name="Download PDF")).to_have_attribute(
        "href", f"/chat/returns/{parcel.return_id}/label.pdf"
    )
    assert serious_violations(page) == []
    page.screenshot(path=shots / "label-02-parcel.png", full_page=True)

    # On paper: the buttons and the hint are gone, the label keeps its codes.
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.locator(".hint")).to_be_hidden()
    expect(barcode).to_be_visible()
    page.screenshot(path=shots / "label-03-parcel-print.png", full_page=True)
    context.close()


def test_a_store_return_shows_its_qr_code_without_a_barcode_on_a_phone(
    stack: LiveStack, committed: tuple[ReturnRecord, ReturnRecord], browser: Browser, shots: Path
):
    _, store = committed
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    # Signed in over HTTP in this browser context (its cookies), so only the label page is drawn here.
    assert context.request.get(f"{stack.url}/chat/").ok
    token = next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "csrftoken")
    signed_in = context.request.post(
        f"{stack.url}/chat/session",
        data={"email": "rjohnson@company.com", "order_id": "ORD-79001"},
        headers={"X-CSRFToken": token},
    )
    assert signed_in.ok, signed_in.text()
    page = context.new_page()
    page.goto(f"{stack.url}/chat/returns/{store.return_id}/label")
    expect(page.locator("svg.qr")).to_be_visible()
    expect(page.locator("svg.barcode")).to_have_count(0)
    expect(page.locator(".note")).to_contain_text("No parcel label needed")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # nothing cut off sideways
    page.screenshot(path=shots / "label-04-store-phone.png", full_page=True)
    context.close()
