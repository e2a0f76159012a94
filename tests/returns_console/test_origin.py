"""Websockets are opened only by pages of this site, host and port (returns_console/origin.py), driven as an ASGI app.

Channels' AllowedHostsOriginValidator compares host names only: a page on another port of the same host could open
a socket with the user's session. Here that is refused.
"""

from __future__ import annotations

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from returns_console.origin import AllowedHostsOriginValidator, HostOriginValidator, origin_allowed


class Accepting(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()


async def _opens(origin: str | None, host: str | None, extra: list[tuple[bytes, bytes]] | None = None) -> bool:
    headers = [(b"origin", origin.encode())] if origin is not None else []
    headers += [(b"host", host.encode())] if host is not None else []
    communicator = WebsocketCommunicator(
        HostOriginValidator(Accepting.as_asgi()), "/ws/console/", headers + (extra or [])
    )
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Consumers tidy database connections per message; nothing here has one (as channels.testing does)."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


@pytest.fixture(autouse=True)
def hosts(settings):  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".example.com"]
    return settings


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:8000", "localhost:8000"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://[::1]:8000", "[::1]:8000"),
        ("https://shop.example.com", "shop.example.com"),  # default port: in neither header
        ("https://shop.example.com:443", "shop.example.com"),
        ("https://shop.example.com", "shop.example.com:443"),
        ("http://shop.example.com", "shop.example.com"),
        ("https://shop.example.com:8443", "shop.example.com:8443"),  # wss behind a proxy, or ws: schemes not compared
        ("HTTP://LocalHost:8000", "localhost:8000"),
    ],
)
async def test_a_page_of_the_same_host_and_port_opens_a_socket(origin: str, host: str):
    assert await _opens(origin, host)


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:3000", "localhost:8000"),  # another app on the same machine
        ("http://localhost", "localhost:8000"),
        ("http://localhost:8000", "localhost"),
        ("https://shop.example.com:8443", "shop.example.com"),
        ("http://127.0.0.1:8000", "localhost:8000"),
        ("http://evil.test:8000", "localhost:8000"),
        ("http://evil.test:8000", "evil.test:8000"),  # DNS rebinding: same origin, but not our host name
        ("http://shop.example.com.evil.test", "shop.example.com.evil.test"),
        ("null", "localhost:8000"),
        ("file://", "localhost:8000"),
        ("ws://localhost:8000", "localhost:8000"),  # browsers send the page's http(s) origin
        ("http://localhost:8000/path", "localhost:8000"),
        ("http://user@localhost:8000", "localhost:8000"),
        ("http://localhost:8000", None),
        (None, "localhost:8000"),
    ],
)
async def test_any_other_page_is_refused(origin: str | None, host: str | None):
    assert not await _opens(origin, host)


async def test_two_origin_headers_are_refused():
    assert not await _opens("http://localhost:8000", "localhost:8000", [(b"origin", b"http://localhost:3000")])


async def test_pages_on_another_port_need_their_host_and_port_listed(hosts):
    """Pages on :8000, websockets on a Daphne process of their own on :8001 (make run, docker-compose.yml)."""
    assert not await _opens("http://127.0.0.1:8000", "127.0.0.1:8001")
    hosts.ALLOWED_HOSTS = [*hosts.ALLOWED_HOSTS, "127.0.0.1:8000", ".example.com:443"]
    assert await _opens("http://127.0.0.1:8000", "127.0.0.1:8001")
    assert await _opens("https://shop.example.com", "shop.example.com:8001")
    assert not await _opens("http://127.0.0.1:3000", "127.0.0.1:8001")  # only the port listed
    assert not await _opens("http://localhost:8000", "localhost:8001")  # only the host listed
    assert not await _opens("http://shop.example.com", "shop.example.com:8001")  # port 80 is not 443


async def test_a_host_listed_only_with_a_port_is_allowed_only_there(hosts):
    hosts.ALLOWED_HOSTS = ["returns.example.org:8443"]
    assert await _opens("https://returns.example.org:8443", "returns.example.org:8001")
    assert not await _opens("https://returns.example.org", "returns.example.org")


async def test_in_debug_with_no_allowed_hosts_localhost_is_allowed(hosts):
    hosts.ALLOWED_HOSTS, hosts.DEBUG = [], True
    assert await _opens("http://localhost:8000", "localhost:8000")
    assert not await _opens("http://localhost:3000", "localhost:8000")
    hosts.DEBUG = False
    assert not await _opens("http://localhost:8000", "localhost:8000")


async def test_a_wildcard_allows_any_host_but_still_compares_ports(hosts):
    hosts.ALLOWED_HOSTS = ["*"]
    assert await _opens("https://anything.test", "anything.test")
    assert not await _opens("http://anything.test:3000", "anything.test:8000")


async def test_the_factory_is_a_drop_in_for_channels(hosts):
    guarded = AllowedHostsOriginValidator(Accepting.as_asgi())
    assert isinstance(guarded, HostOriginValidator)
    with pytest.raises(ValueError, match="websocket"):
        await guarded({"type": "http"}, None, None)


def test_the_rule_without_asgi():
    allowed = ["localhost", "127.0.0.1:8000"]
    assert origin_allowed("http://localhost:8001", "localhost:8001", allowed)
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8001", allowed)
    assert not origin_allowed("http://localhost:8000", "localhost:8001", allowed)
    assert not origin_allowed("http://[::1", "localhost", allowed)  # malformed
