"""The customer's HTTP endpoints: sign-in, the chat page, and the ChatKit protocol endpoint.

Thin: parse, check who is asking, call the service or the ChatKit server, render. Every failure a client
can cause is a 4xx with a JSON reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ErrorEvent, ProgressUpdateEvent
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from pydantic import ValidationError
from redis.exceptions import RedisError

from chat import limits, ownership, ratelimit
from chat.client_address import client_address
from chat.context import ChatContext
from chat.http import error, require_GET, require_POST
from chat.server import REQUEST_ADAPTER, ReturnsChatServer
from chat.sockets import end_sockets, session_group
from chat.store import CosmosChatStore
from chat.streaming import coalesced
from chat.turn_slots import turn_slot
from customers.cosmos.runner import loop_repository
from customers.services.identity import identify_customer, normalise_order_id

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = settings.REQUEST_BODY_LIMITS["/chatkit"]
SESSION_CUSTOMER = "customer_id"
SESSION_ORDER = "customer_order_id"
FIRST_PROGRESS = "One moment…"
SIGN_IN_LIMIT = (10, 300)  # failed attempts per window (seconds), per client address and per email
# What this assistant answers. The rest (client tools, structured input, attachments, dictation, synchronous
# actions) would fail half-way through a stream, so they are refused up front with a clear 400.
SUPPORTED_REQUESTS = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.custom_action",
        "threads.retry_after_item",
        "threads.get_by_id",
        "threads.list",
        "threads.update",
        "threads.delete",
        "items.list",
        "items.feedback",
    }
)
# Requests that make the assistant answer: each is a turn, admitted by the customer's rate limit.
TURNS = frozenset({"threads.create", "threads.add_user_message", "threads.custom_action", "threads.retry_after_item"})
# Requests that change a thread's stored state without being a turn of it.
CHANGES_OUTSIDE_TURNS = frozenset({"threads.update", "threads.delete"})
_ready_containers: set[tuple[int, str]] = set()
_container_lock = asyncio.Lock()


@require_GET
@ensure_csrf_cookie
async def chat_page(request: HttpRequest) -> HttpResponse:
    """Async, like the rest of the chat: a sync view costs the request a thread of its own."""
    official = {"domain_key": settings.CHATKIT_DOMAIN_KEY, "script": settings.CHATKIT_SCRIPT_URL}
    return render(
        request,
        "chat/index.html",
        {
            "official_chatkit": official if settings.CHATKIT_DOMAIN_KEY else None,
            "message_max_chars": settings.CHAT_MESSAGE_MAX_CHARS,  # the box stops where the server would refuse
        },
    )


async def _give_back(buckets: list[ratelimit.Bucket]) -> None:
    """Return a try that was not a wrong guess; if Redis fails now, the try stays spent until its window ends."""
    try:
        await ratelimit.release(buckets)
    except RedisError:
        logger.warning("sign-in try not given back (Redis unavailable)", exc_info=True)


@require_POST
async def start_session(request: HttpRequest) -> JsonResponse:
    """Sign in with email + order number; a wrong pair gets one neutral answer whichever half was wrong."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return error(400, "invalid_json", 'The body must be JSON: {"email": ..., "order_id": ...}.')
    if not isinstance(body, dict):
        return error(400, "invalid_request", "The body must be a JSON object.")
    email, order_id = body.get("email"), body.get("order_id")
    if not isinstance(email, str) or not isinstance(order_id, str) or not email.strip() or not order_id.strip():
        return error(400, "invalid_request", "Both 'email' and 'order_id' are required.")
    email = email.strip().lower()
    # Each attempt takes a try before it is judged (atomically, so parallel guesses cannot overtake the limit);
    # a success gives it back, so a customer who signs in often is never locked out by their own successes.
    limit, window = SIGN_IN_LIMIT
    buckets = [
        ratelimit.Bucket(f"signin:ip:{client_address(request)}", limit, window),
        ratelimit.Bucket(f"signin:email:{email}", limit, window),
    ]
    try:
        attempt = await ratelimit.reserve(buckets)
    except RedisError:
        # Without the limiter we cannot protect accounts from guessing: refuse, politely, for now.
        logger.exception("sign-in rate limiter unavailable")
        return error(503, "unavailable", "Sign-in is briefly unavailable. Please try again in a moment.")
    if not attempt.allowed:
        refused = error(429, "rate_limited", "Too many attempts. Please wait a few minutes and try again.")
        refused["Retry-After"] = str(attempt.retry_after_seconds)
        return refused
    try:
        customer_id = await identify_customer(await loop_repository(), email, order_id)
    except BaseException:
        await _give_back(buckets)  # an outage is not a wrong guess
        raise
    if customer_id is None:
        return error(401, "not_recognised", "We couldn't find an order with that email and order number.")
    await _give_back(buckets)
    await request.session.acycle_key()  # a new session id at sign-in prevents session fixation
    await request.session.aset(SESSION_CUSTOMER, customer_id)
    await request.session.aset(SESSION_ORDER, normalise_order_id(order_id))
    return JsonResponse({"customer_id": customer_id, "order_id": normalise_order_id(order_id)})


@require_POST
async def end_session(request: HttpRequest) -> JsonResponse:
    if request.session.session_key:
        try:  # the page's live socket ends with the session
            await end_sockets(session_group(request.session.session_key))
        except (RedisError, OSError):
            logger.warning("could not close the sockets of an ended customer session")
    await request.session.aflush()
    return JsonResponse({"signed_out": True})


async def customer_context(request: HttpRequest) -> ChatContext | None:
    customer_id = await request.session.aget(SESSION_CUSTOMER)
    order_id = await request.session.aget(SESSION_ORDER)
    return ChatContext(customer_id=customer_id, order_id=order_id) if customer_id else None


async def chat_store() -> CosmosChatStore:
    repo = await loop_repository()
    store = CosmosChatStore(repo.database)
    key = (id(repo.client), repo.database.id)
    if key not in _ready_containers:
        async with _container_lock:  # the first requests of a process arrive together
            if key not in _ready_containers:
                await store.ensure_container()
                _ready_containers.add(key)
    return store


def _names_foreign_ids(parsed: Any, context: ChatContext) -> bool:
    """Whether the request names a thread or item this customer cannot have: ids are signed for their owner
    (chat/ownership.py), so this needs no read and another customer's thread looks exactly like a missing one."""
    params = getattr(parsed, "params", None)
    thread_id = getattr(params, "thread_id", None)
    if not isinstance(thread_id, str):
        return False
    if not ownership.owns_thread(context.customer_id, thread_id):
        return True
    item_ids = list(getattr(params, "item_ids", None) or [])
    if getattr(params, "item_id", None):
        item_ids.append(params.item_id)
    return not all(ownership.item_in_thread(thread_id, item_id) for item_id in item_ids)


def _sse(event: Any) -> bytes:
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"


async def _answer_stream(result: StreamingResult) -> AsyncIterator[bytes]:
    """The customer sees that we are on it at once, before the turn waits for a slot (chat.turn_slots) and the
    conversation is read; a thread of theirs deleted meanwhile (the only id that passes the signature check and
    is still missing) ends with a clear error."""
    yield _sse(ProgressUpdateEvent(text=FIRST_PROGRESS))
    try:
        async with turn_slot():
            async for chunk in coalesced(result):
                yield chunk
    except NotFoundError:
        yield _sse(ErrorEvent(message="That conversation no longer exists. Please start a new one.", allow_retry=False))


@require_POST
async def chatkit_endpoint(request: HttpRequest) -> HttpResponse:
    context = await customer_context(request)
    if context is None:
        return error(401, "not_signed_in", "Sign in with your email and order number first.")
    # Daphne serves this through returns_console.body_limit, which stops larger bodies however they arrive;
    # this check covers other ASGI/WSGI servers that pass a Content-Length.
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY_BYTES:
        return error(413, "too_large", f"Requests are limited to {MAX_BODY_BYTES // 1024} KB.")
    body = request.body
    try:
        parsed = REQUEST_ADAPTER.validate_json(body)
    except ValidationError as invalid:
        first = invalid.errors()[0] if invalid.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(
            400, "invalid_request", f"Not a ChatKit request: {first.get('msg', 'invalid')} at {where or 'body'}."
        )
    if parsed.type not in SUPPORTED_REQUESTS:
        return error(400, "unsupported", f"'{parsed.type}' is not supported by this assistant.")
    if _names_foreign_ids(parsed, context):
        return error(404, "not_found", "That conversation or message does not exist.")
    thread_id = getattr(getattr(parsed, "params", None), "thread_id", None)
    refusal, turn = limits.check_content(parsed), None
    if refusal is None and parsed.type in TURNS:
        admission = await limits.admit_turn(context.customer_id, thread_id)
        refusal, turn = admission.refusal, admission.turn
    if refusal is not None:
        response = error(refusal.status, refusal.code, refusal.message)
        if refusal.retry_after_seconds:
            response["Retry-After"] = str(refusal.retry_after_seconds)
        return response
    if parsed.type in CHANGES_OUTSIDE_TURNS:
        try:  # before the change: a copy of the thread kept by a web process must not outlive it
            await limits.thread_changed_outside_turns(thread_id)
        except (RedisError, OSError):
            logger.warning("thread %s not changed: Redis unavailable", thread_id)
            return error(503, "unavailable", "That change is briefly unavailable. Please try again in a moment.")
    store = await chat_store()
    if thread_id and turn is not None:
        store.number_turn(thread_id, turn)
    server = ReturnsChatServer(store)
    try:
        result = await server.process_parsed(parsed, context)
    except NotFoundError:
        return error(404, "not_found", "That conversation or message does not exist.")
    except (ValueError, NotImplementedError, RuntimeError) as refused:
        return error(400, "unsupported", str(refused)[:200] or "This request is not supported.")
    if isinstance(result, StreamingResult):
        response = StreamingHttpResponse(_answer_stream(result), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    return HttpResponse(result.json, content_type="application/json")
