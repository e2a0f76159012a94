"""Which pages may open our websockets: pages of this site, host and port.

A websocket carries the user's session cookie, and browsers let any page open one to any host, saying only where
the page came from (Origin). Channels' AllowedHostsOriginValidator compares the Origin's host name with
ALLOWED_HOSTS and ignores its port, so any other service on the same host (another app on localhost:3000, a
forgotten admin tool on :8080) could open sockets as the signed-in user. Here the Origin must name the same host
and port as the socket's own Host header, or a host:port that ALLOWED_HOSTS lists explicitly (pages on one port,
websockets on WEBSOCKET_PORT: list the pages' host:port). Schemes are not compared: behind a proxy that terminates
TLS the socket is ws:// while the page is https://. The host must be allowed by ALLOWED_HOSTS either way, as for
any Django request, which also keeps out DNS rebinding. No Origin, "null" or anything malformed is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
# What Django allows when DEBUG is on and ALLOWED_HOSTS is empty.
DEBUG_ALLOWED_HOSTS = (".localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class Source:
    """Where a page came from, from its Origin header."""

    domain: str
    port: int
    default_port: bool  # the scheme's own (the Origin names no port)


def parse_origin(origin: str) -> Source | None:
    """An Origin header as a browser sends it (scheme://host[:port], nothing else), or None."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    domain, port = split_domain_port(parts.netloc)
    if not domain:
        return None
    number = int(port) if port else DEFAULT_PORTS[parts.scheme]
    return Source(domain, number, number == DEFAULT_PORTS[parts.scheme])


def same_host_and_port(source: Source, host: str) -> bool:
    """The page is on the socket's own host and port. A Host with no port means the scheme's default port, which a
    browser leaves out of the Origin too."""
    domain, port = split_domain_port(host)
    if not domain or domain != source.domain:
        return False
    return int(port) == source.port if port else source.default_port


def origin_allowed(origin: str | None, host: str | None, allowed_hosts: Iterable[str]) -> bool:
    """Whether a page at ``origin`` may open a websocket whose Host header is ``host``."""
    source = parse_origin(origin) if origin else None
    if source is None:
        return False
    hostnames = []
    for entry in allowed_hosts:
        domain, port = split_domain_port(entry)
        if not port:
            hostnames.append(entry)  # a host name or pattern (".example.com", "*"), any port
        elif is_same_domain(source.domain, domain) and int(port) == source.port:
            return True  # listed with this very port
    return validate_host(source.domain, hostnames) and host is not None and same_host_and_port(source, host)


def allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    return hosts if hosts or not settings.DEBUG else list(DEBUG_ALLOWED_HOSTS)


def _only_header(scope: dict[str, Any], name: bytes) -> str | None:
    """The header's value if it was sent exactly once (two Origins or two Hosts are not a browser's)."""
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    if len(values) != 1:
        return None
    return values[0].decode("latin1")


class HostOriginValidator:
    """ASGI middleware for websockets: a socket from a page that is not this site's is refused before the app
    (and the user's session) is reached."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("HostOriginValidator only guards websocket connections")
        if origin_allowed(_only_header(scope, b"origin"), _only_header(scope, b"host"), allowed_hosts()):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def AllowedHostsOriginValidator(application: Any) -> HostOriginValidator:
    """Drop-in for channels.security.websocket.AllowedHostsOriginValidator (same name and call), ports compared."""
    return HostOriginValidator(application)
