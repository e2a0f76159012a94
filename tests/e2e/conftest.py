"""A real browser for the end-to-end tests: Playwright driving Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Every page reports what the Content-Security-Policy blocked on its console (Chromium logs it there too).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


class PolicyWatchedBrowser:
    """The browser, with every page it opens watched for Content-Security-Policy violations."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def _watch(self, target: Page | BrowserContext) -> None:
        target.add_init_script(REPORT_VIOLATIONS)
        target.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(message.text)

    def new_context(self, **options: Any) -> BrowserContext:
        context = self._browser.new_context(**options)
        self._watch(context)
        return context

    def new_page(self, **options: Any) -> Page:
        page = self._browser.new_page(**options)
        self._watch(page)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[PolicyWatchedBrowser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs it from Debian's packages"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield PolicyWatchedBrowser(chromium)
        chromium.close()


@pytest.fixture(autouse=True)
def no_policy_violations(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Fails a browser test whose pages broke the Content-Security-Policy (an inline script, a foreign host...)."""
    if "browser" not in request.fixturenames:
        yield []
        return
    watched: PolicyWatchedBrowser = request.getfixturevalue("browser")
    watched.violations.clear()
    yield watched.violations
    found, watched.violations[:] = list(watched.violations), []
    assert found == [], f"Content-Security-Policy violations: {found}"


@pytest.fixture
def shots(output_dir: Path) -> Path:
    folder = output_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder
