"""The address a request came from, for per-address limits: the one place that knows about proxies.

Behind ``TRUSTED_PROXY_COUNT`` proxies that each append the address they saw to X-Forwarded-For (nginx
``$proxy_add_x_forwarded_for``, Azure Front Door, most load balancers), the client is that many entries from the
right. Entries further left were written by the client and are ignored, so prepending fake ones changes nothing.
With no trusted proxy the header is ignored entirely: anyone could write it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(entry: str) -> str | None:
    """An IP address from one X-Forwarded-For entry; some proxies add a port (``1.2.3.4:5678``, ``[::1]:5678``)."""
    entry = entry.strip()
    candidates = [entry]
    if entry.startswith("[") and "]" in entry:
        candidates.append(entry[1 : entry.index("]")])
    elif entry.count(":") == 1:
        candidates.append(entry.split(":")[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR when no proxy is trusted, else the X-Forwarded-For entry ``TRUSTED_PROXY_COUNT`` hops from the right.

    Fewer entries than proxies means the request skipped some of them (or a proxy does not append): the leftmost
    entry is then the furthest hop known, and is used. No header, or an entry that is not an address, falls back to
    REMOTE_ADDR, so a malformed header can never mint buckets of its own.
    """
    return address_from(str(request.META.get("REMOTE_ADDR") or "unknown"), request.META.get("HTTP_X_FORWARDED_FOR"))


def address_from(remote: str, forwarded_for: str | None) -> str:
    """:func:`client_address` from the peer address and the X-Forwarded-For header (for ASGI apps that are not
    Django views, such as /mcp)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    entries = [entry for entry in str(forwarded_for or "").split(",") if entry.strip()]
    if not entries:
        return remote
    chosen = entries[-hops] if len(entries) >= hops else entries[0]
    return _address(chosen) or remote
