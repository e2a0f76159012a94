"""The console's live feed: every conversation event numbered per conversation, kept for resync, fanned out.

Publishing is one Lua call (next number + append to the conversation's log, atomically) and one group send on
the Redis channel layer. Two publishers can deliver numbers 4 and 5 in either order, so dashboards keep the
last number per conversation and ask for what they miss; ``since()`` answers from the log, in order.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from customers.redis_client import async_redis

GROUP = "console"
LOG_TTL_SECONDS = 7 * 24 * 3600
MAX_RESYNC = 500
# The feed's epoch names one life of Redis's numbering: after Redis restarts empty, numbers start again at 1 under
# a new epoch, and a dashboard that sees another epoch reloads instead of dropping "old" numbers it thinks it has.
EPOCH_KEY = "console:epoch"
MAX_EVENT_BYTES = 64 * 1024
# KEYS[1] the epoch, ARGV[1] a new one to use if Redis has none: the current epoch in the Lua local ``epoch``.
_CURRENT_EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
"""
_EPOCH = _CURRENT_EPOCH + "return epoch\n"
# KEYS[2] the conversation's counter, KEYS[3] its log; ARGV[2] the event, ARGV[3] the log's lifetime.
_PUBLISH = (
    _CURRENT_EPOCH
    + """
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[3], seq, ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
return {seq, epoch}
"""
)


def _keys(conversation: str) -> list[str]:
    return [f"console:seq:{conversation}", f"console:log:{conversation}"]


def _body(event: dict[str, Any]) -> str:
    """The event as kept and sent. One too large for a dashboard (a frame every socket must carry, kept a week
    for resync) is replaced by a marker that makes dashboards read the conversation instead."""
    body = json.dumps({"id": uuid.uuid4().hex, **event}, separators=(",", ":"), default=str)
    if len(body) <= MAX_EVENT_BYTES:
        return body
    marker = {"kind": event.get("kind", "chat"), "event": {"type": "oversize"}, "oversize": len(body)}
    return json.dumps({"id": uuid.uuid4().hex, **marker}, separators=(",", ":"))


def _numbered(conversation: str, body: str, result: list[Any]) -> dict[str, Any]:
    seq, epoch = result
    epoch = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
    return {**json.loads(body), "conversation": conversation, "seq": int(seq), "epoch": epoch}


async def publish(conversation: str, event: dict[str, Any]) -> dict[str, Any]:
    """Number ``event`` for its conversation, keep it, and send it to every dashboard."""
    body = _body(event)
    result = await async_redis(settings.REDIS_URL).eval(
        _PUBLISH, 3, EPOCH_KEY, *_keys(conversation), uuid.uuid4().hex, body, LOG_TTL_SECONDS
    )
    numbered = _numbered(conversation, body, result)
    await get_channel_layer().group_send(GROUP, _message(numbered))
    return numbered


async def epoch() -> str:
    """The feed's current epoch (made now if Redis has none)."""
    value = await async_redis(settings.REDIS_URL).eval(_EPOCH, 1, EPOCH_KEY, uuid.uuid4().hex)
    return value.decode() if isinstance(value, bytes) else str(value)


def _message(numbered: dict[str, Any]) -> dict[str, Any]:
    """The frame every dashboard gets, serialised once here rather than once per dashboard."""
    return {"type": "console.event", "text": json.dumps({"type": "event", **numbered}, separators=(",", ":"))}


_sync_clients: dict[str, redis.Redis] = {}


def publish_sync(conversation: str, event: dict[str, Any]) -> dict[str, Any]:
    """``publish`` for sync code (API views in a thread, Celery tasks): Channels' documented way to reach the
    layer from sync code is async_to_sync; the numbering uses a sync client so no loop-bound pool is made."""
    url = settings.REDIS_URL
    client = _sync_clients.setdefault(url, redis.Redis.from_url(url, socket_timeout=5))
    body = _body(event)
    result = client.eval(_PUBLISH, 3, EPOCH_KEY, *_keys(conversation), uuid.uuid4().hex, body, LOG_TTL_SECONDS)
    numbered = _numbered(conversation, body, result)  # type: ignore[arg-type]
    async_to_sync(get_channel_layer().group_send)(GROUP, _message(numbered))
    return numbered


async def since(conversation: str, last_seq: int) -> list[dict[str, Any]]:
    """The conversation's events after ``last_seq``, in order (at most MAX_RESYNC; ask again for more)."""
    rows = await async_redis(settings.REDIS_URL).zrangebyscore(
        _keys(conversation)[1], f"({last_seq}", "+inf", start=0, num=MAX_RESYNC, withscores=True
    )
    return [{**json.loads(body), "conversation": conversation, "seq": int(score)} for body, score in rows]


async def last_seq(conversation: str) -> int:
    return (await last_seqs([conversation]))[conversation]


async def last_seqs(conversations: list[str]) -> dict[str, int]:
    """Each conversation's feed position, in one round trip (the list asks for up to 200)."""
    if not conversations:
        return {}
    values = await async_redis(settings.REDIS_URL).mget([_keys(c)[0] for c in conversations])
    return {c: int(value or 0) for c, value in zip(conversations, values, strict=True)}
