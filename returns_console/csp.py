"""The Content-Security-Policy every response carries (ContentSecurityPolicyMiddleware sets it).

Pages load only their own scripts and styles: no inline script, no inline style, no eval, no frames of ours in
other sites. They connect to their own origin (the JSON API and the chat's Server-Sent Events) and to the live
websocket on the same host, which may be on WEBSOCKET_PORT. With CHATKIT_DOMAIN_KEY the chat page also loads
OpenAI's ChatKit web component and its frame from OpenAI's CDN.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.http.request import split_domain_port

# What a CSP host-source can name: a hostname or IPv4 address (IPv6 literals cannot be written in a policy).
_CSP_HOST = re.compile(r"^[a-z0-9.-]+$")


def _cdn_origin() -> str:
    """OpenAI's CDN, only when the chat page can use the official ChatKit component."""
    if not settings.CHATKIT_DOMAIN_KEY:
        return ""
    parts = urlsplit(settings.CHATKIT_SCRIPT_URL)
    return f"{parts.scheme}://{parts.netloc}"


def websocket_sources(request: HttpRequest) -> list[str]:
    """ws:/wss: on the page's own host and port and on WEBSOCKET_PORT: 'self' does not cover websockets in every
    browser, and never another port."""
    try:
        host = request.get_host()
    except DisallowedHost:
        return []  # the error page opens no socket
    domain, port = split_domain_port(host)
    if not _CSP_HOST.match(domain):
        return []
    hosts = [f"{domain}:{port}" if port else domain]
    if settings.WEBSOCKET_PORT and port != settings.WEBSOCKET_PORT:
        hosts.append(f"{domain}:{settings.WEBSOCKET_PORT}")
    return [f"{scheme}://{name}" for name in hosts for scheme in ("ws", "wss")]


def content_security_policy(request: HttpRequest) -> str:
    cdn = _cdn_origin()
    extra = [cdn] if cdn else []
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *extra],
        "style-src": ["'self'", *extra],
        "img-src": ["'self'", *extra],
        "font-src": ["'self'", *extra],
        "connect-src": ["'self'", *websocket_sources(request), *extra],
        "frame-src": extra or ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())
