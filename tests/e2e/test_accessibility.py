"""The chat and the console, scanned by axe-core (from npm, injected by the test: no CDN) in the real browser, at a
desk and at tablet width: no serious or critical violation; and what a keyboard user needs is there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_console_browser import _agent, _customer, _say
from tests.live import LiveStack, live_stack

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desk": (1440, 900), "small laptop": (1024, 768), "tablet": (820, 1180)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    with live_stack(tmp_path_factory.mktemp("a11y"), redis_url, cosmos_service, sockets=True) as running:
        yield running


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the test, so the page's CSP is not loosened
    found = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} -> ${
                v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`)"""
    )
    return list(found)


@pytest.mark.parametrize("size", SIZES)
def test_the_chat_has_no_serious_accessibility_violations(stack: LiveStack, browser: Browser, size: str, shots: Path):
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{stack.url}/chat/")
    assert serious_violations(page) == []  # the sign-in form
    page.close()
    customer = _customer(browser, stack.url, "sofia.rossi@example.com", "ORD-79116")
    customer.set_viewport_size({"width": width, "height": height})
    _say(customer, "I want to return something")
    expect(customer.locator(".card").last).to_be_visible(timeout=10000)
    assert serious_violations(customer) == []  # a conversation with widgets
    customer.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_console_has_no_serious_accessibility_violations(
    stack: LiveStack, browser: Browser, size: str, shots: Path
):
    customer = _customer(browser, stack.url, "kenji.tanaka@example.com", "ORD-79119")
    _say(customer, "can I talk to someone")
    agent = _agent(browser, stack.url, stack.env["DEMO_PASSWORD"])
    agent.set_viewport_size({"width": SIZES[size][0], "height": SIZES[size][1]})
    row = agent.locator(".conv-button").filter(has_text="Kenji Tanaka").first
    expect(row).to_be_visible(timeout=10000)
    assert serious_violations(agent) == []  # the list
    row.click()
    expect(agent.locator("#thread-head")).to_be_visible()
    assert serious_violations(agent) == []  # a conversation open
    agent.screenshot(path=str(shots / f"console-a11y-{size.replace(' ', '-')}.png"))
    # Nothing of the page is cut off sideways at this width.
    assert agent.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    agent.context.close()
    customer.context.close()


@pytest.mark.parametrize("size", ["desk", "tablet"])
def test_the_insights_page_has_no_serious_accessibility_violations(
    stack: LiveStack, browser: Browser, size: str, shots: Path
):
    customer = _customer(browser, stack.url, "linda.chen@example.com", "ORD-79005")
    _say(customer, "I want to return something")  # a conversation that stops at choosing what to return
    expect(customer.locator(".card").last).to_be_visible(timeout=10000)
    supervisor = _agent(browser, stack.url, stack.env["DEMO_PASSWORD"], "supervisor")
    supervisor.set_viewport_size({"width": SIZES[size][0], "height": SIZES[size][1]})
    supervisor.goto(f"{stack.url}/console/insights/")
    expect(supervisor.locator("body[data-loaded=true]")).to_be_attached(timeout=15000)
    stalls = supervisor.locator("section[data-table=stalls]")
    expect(stalls.locator("table")).to_contain_text("choosing what to return")
    assert serious_violations(supervisor) == []  # charts, tables, the period form
    stalls.get_by_role("button", name="choosing what to return").click()
    expect(supervisor.locator("#drill")).to_contain_text("Linda Chen")
    assert serious_violations(supervisor) == []  # the drill-down dialog open
    supervisor.screenshot(path=str(shots / f"insights-a11y-{size}.png"), full_page=True)
    assert supervisor.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    supervisor.context.close()
    customer.context.close()


def test_repeated_buttons_have_distinct_names_and_the_focus_ring_shows(stack: LiveStack, browser: Browser):
    customer = _customer(browser, stack.url, "emily.davis@example.com", "ORD-79122")
    _say(customer, "I want to return something")
    buttons = customer.locator(".card").last.get_by_role("button")
    expect(buttons.first).to_be_visible(timeout=10000)
    names = [
        buttons.nth(i).evaluate("b => b.getAttribute('aria-label') || b.textContent") for i in range(buttons.count())
    ]
    assert len(names) == len(set(names)), names  # "Return This" x 5 says which item to a screen reader
    customer.keyboard.press("Tab")
    style, color = customer.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineColor]; })()"
    )
    assert style not in ("none", ""), style
    assert contrast_on_white(color) >= 3.0, color  # WCAG 2.2 focus appearance: 3:1 against what is around it
    customer.context.close()


def contrast_on_white(css_color: str) -> float:
    """WCAG contrast ratio of an ``rgb(r, g, b)`` colour against white."""
    red, green, blue = (int(part) for part in css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")[:3])

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)
