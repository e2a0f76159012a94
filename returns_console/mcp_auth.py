"""/mcp in front of Django: the path dispatcher, and the staff bearer-token check before the MCP server.

The MCP server (returns_console/mcp_server.py) is an ASGI app of the SDK's, not a Django view, so what Django's
middleware would do for a view is done here, before any of it runs:
- the Host header must be one of ALLOWED_HOSTS (Django's own rule), and a browser's Origin, when one is sent, must
  be this site (returns_console/origin.py): no DNS rebinding, no other page driving a staff member's client;
- with HTTPS_ONLY, a request that did not come over HTTPS (directly or per the proxy's X-Forwarded-Proto) is
  refused rather than redirected, so a client configured with http:// fails loudly instead of sending its token
  in clear on every first request;
- ``Authorization: Bearer <token>`` must be a working staff token (customers.services.mcp_tokens, a database
  lookup of its SHA-256): otherwise 401 with ``WWW-Authenticate: Bearer`` and a JSON reason;
- wrong tokens are counted per client address and a token's requests per minute (chat/ratelimit.py, in Redis,
  shared by every process): beyond MCP_FAILED_TOKENS_PER_ADDRESS or MCP_CALLS_PER_MINUTE, 429 with Retry-After.
  With Redis away the limits are skipped and logged: tokens are unguessable, the limits only keep noise down.
The token's row (with its user) travels to the tools in the ASGI scope (``token_of``). The request's database work
runs on a thread lent for the request, as Django's own requests do (returns_console/request_threads.py), and its
connections are closed when it ends, as Django's request_finished does.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host
from redis.exceptions import RedisError

from chat import ratelimit
from chat.client_address import address_from
from customers.models import McpToken
from customers.services import mcp_tokens
from returns_console.origin import allowed_hosts, origin_allowed
from returns_console.request_threads import RequestThreads

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MCP_PATH = "/mcp"
SCOPE_KEY = "returns_console.mcp_token"
REALM = "returns-console"
MISSING = (
    "Send a staff MCP token as 'Authorization: Bearer <token>'. An admin makes one in Django admin (MCP tokens) "
    "or with 'python manage.py mcp_token <username>'."
)
INVALID = "This MCP token does not work: it is unknown, revoked, or its holder is no longer active staff."
logger = logging.getLogger(__name__)


def _guess_buckets(scope: Scope) -> list[ratelimit.Bucket]:
    client = scope.get("client") or ("unknown", 0)
    address = address_from(str(client[0]), _header(scope, b"x-forwarded-for"))
    window = settings.STAFF_LOGIN_WINDOW_SECONDS
    return [ratelimit.Bucket(f"mcp:ip:{address}", settings.MCP_FAILED_TOKENS_PER_ADDRESS, window)]


def _call_buckets(token: McpToken) -> list[ratelimit.Bucket]:
    return [ratelimit.Bucket(f"mcp:token:{token.pk}", settings.MCP_CALLS_PER_MINUTE, 60)]


async def _reserve(buckets: list[ratelimit.Bucket]) -> ratelimit.Attempt:
    try:
        return await ratelimit.reserve(buckets)
    except (RedisError, OSError) as failure:
        logger.warning("/mcp request let through without its rate limit (Redis: %s)", failure)
        return ratelimit.Attempt(allowed=True)


async def _too_many(send: Send, attempt: ratelimit.Attempt, error: str, message: str) -> None:
    seconds = max(1, attempt.retry_after_seconds)
    headers = [(b"retry-after", str(seconds).encode())]
    await send_json(send, 429, {"error": error, "message": message.format(seconds=seconds)}, headers)


def is_mcp_path(path: str) -> bool:
    """``/mcp`` and everything under ``/mcp/`` (clients are configured with either)."""
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")


def token_of(request_or_scope: Any) -> McpToken | None:
    """The staff token a request was authenticated with (from an ASGI scope, or a Starlette request's)."""
    scope = getattr(request_or_scope, "scope", request_or_scope)
    return scope.get(SCOPE_KEY) if isinstance(scope, MutableMapping) else None


def _header(scope: Scope, name: bytes) -> str | None:
    """The header's value if it was sent exactly once."""
    values = [value for key, value in scope.get("headers", ()) if key.lower() == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def bearer_token(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _is_secure(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
    sent = _header(scope, header)
    return sent is not None and sent.split(",")[0].strip() == secure_value


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BearerAuth:
    """ASGI middleware: only requests with a working staff token reach ``app``; the token rides in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.threads = RequestThreads(max_idle=8)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = _header(scope, b"host")
        domain, _port = split_domain_port(host or "")
        if not domain or not validate_host(domain, allowed_hosts()):
            await send_json(send, 400, {"error": "bad_host", "message": "This host name is not served here."})
            return
        origin = _header(scope, b"origin")
        if origin is not None and not origin_allowed(origin, host, allowed_hosts()):
            message = "Pages of other sites may not call /mcp/."
            await send_json(send, 403, {"error": "forbidden_origin", "message": message})
            return
        if settings.SECURE_SSL_REDIRECT and not _is_secure(scope):
            message = f"Use https://{host}{MCP_PATH}/: tokens are accepted over HTTPS only."
            await send_json(send, 403, {"error": "https_required", "message": message})
            return
        plain = bearer_token(scope)
        guesses = _guess_buckets(scope)
        if plain and not (attempt := await _reserve(guesses)).allowed:
            message = "Too many wrong MCP tokens from this address. Try again in {seconds} s."
            await _too_many(send, attempt, "too_many_failures", message)
            return
        async with self.threads.lend():
            try:
                token = await sync_to_async(mcp_tokens.authenticate)(plain) if plain else None
                if token is None:
                    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if plain else "")
                    await send_json(
                        send,
                        401,
                        {"error": "unauthorized", "message": INVALID if plain else MISSING},
                        [(b"www-authenticate", challenge.encode())],
                    )
                    return
                with contextlib.suppress(RedisError, OSError):  # a working token gives its try back
                    await ratelimit.release(guesses)
                if not (attempt := await _reserve(_call_buckets(token))).allowed:
                    message = f"More than {settings.MCP_CALLS_PER_MINUTE} requests a minute with this token. "
                    await _too_many(send, attempt, "rate_limited", message + "Try again in {seconds} s.")
                    return
                await self.app({**scope, SCOPE_KEY: token}, receive, send)
            finally:
                await sync_to_async(close_old_connections)()


class McpRouter:
    """HTTP to ``/mcp`` and under ``/mcp/`` goes to ``mcp``, everything else to ``default`` (Django)."""

    def __init__(self, default: ASGIApp, mcp: ASGIApp) -> None:
        self.default = default
        self.mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_mcp_path(scope.get("path", "")):
            await self.mcp(scope, receive, send)
        else:
            await self.default(scope, receive, send)
