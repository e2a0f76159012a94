"""With CHATKIT_DOMAIN_KEY set the chat page hands the official ChatKit web component our endpoint; without the
CDN it falls back to our own client. The real component comes from OpenAI's CDN, which these machines cannot
reach, so a stand-in element served in its place records what the page gives it and calls our endpoint through
the page's fetch, as the real one does (contract test of the page's side)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Route, expect

from tests.live import LiveStack, live_stack

STAND_IN = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) {
    this.dataset.url = options.api.url;
    this.dataset.domainKey = options.api.domainKey;
    const body = JSON.stringify({type: "threads.list", params: {limit: 5}});
    options.api.fetch(options.api.url, {method: "POST", body, headers: {"Content-Type": "application/json"}})
      .then((response) => { this.dataset.status = String(response.status); });
  }
});
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, cosmos_service) -> Iterator[LiveStack]:  # type: ignore[no-untyped-def]
    extra = {"CHATKIT_DOMAIN_KEY": "domain_pk_test"}
    with live_stack(tmp_path_factory.mktemp("official"), redis_url, cosmos_service, extra) as running:
        yield running


def _sign_in(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/chat/")
    page.get_by_label("Email").fill("rjohnson@company.com")
    page.get_by_label("Order number").fill("ORD-79001")
    page.get_by_role("button", name="Continue").click()


def test_the_official_component_gets_our_endpoint_and_can_call_it(stack: LiveStack, browser: Browser):
    page = browser.new_page()
    served: list[str] = []

    def serve(route: Route) -> None:
        served.append(route.request.url)
        route.fulfill(status=200, content_type="text/javascript", body=STAND_IN)

    page.route(settings.CHATKIT_SCRIPT_URL, serve)
    _sign_in(page, stack.url)
    official = page.locator("#official-chatkit")
    expect(official).to_be_visible()
    expect(official).to_have_attribute("data-url", "/chatkit")
    expect(official).to_have_attribute("data-domain-key", "domain_pk_test")
    # Through the page's fetch the component is signed in and passes CSRF: our endpoint answers 200.
    expect(official).to_have_attribute("data-status", "200")
    assert served == [settings.CHATKIT_SCRIPT_URL]
    expect(page.locator("#chat")).to_be_hidden()
    page.close()


def test_without_the_cdn_the_page_falls_back_to_our_own_client(stack: LiveStack, browser: Browser):
    page = browser.new_page()
    page.route(settings.CHATKIT_SCRIPT_URL, lambda route: route.abort())
    _sign_in(page, stack.url)
    expect(page.locator("#chat")).to_be_visible(timeout=10000)
    page.get_by_label("Message").fill("I want to return some items")
    page.keyboard.press("Enter")
    expect(page.locator(".card").filter(has_text="Robert Johnson").last).to_be_visible(timeout=15000)
    assert json.loads(page.evaluate("JSON.stringify(document.body.dataset)"))["chatkitDomainKey"] == "domain_pk_test"
    page.close()
