"""The console's live feed: every conversation event numbered per conversation, kept for resync, fanned out.

Publishing is one Lua call (next number + append to the conversation's log, atomically) and one group send on
the Redis channel layer. Two publishers can deliver numbers 4 and 5 in either order, so dashboards keep the
last number per conversation and ask for what they miss; ``since()`` answers from the log, in order.

Who gets what: events that change the list (conversation and proposal events, each with its row) go to every
dashboard (GROUP); a conversation's chat events (messages, widgets, progress) and internal notes only to the
dashboards that have it open (``conversation_group``, joined with "viewing"). Sending every chat event to every
dashboard made the fan-out events x dashboards, which is what fell behind first under load. A dashboard therefore
sees gaps in the numbers of conversations it does not have open, and checks continuity only for the one it has.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from customers.redis_client import async_redis

GROUP = "console"
DETAIL_KINDS = frozenset({"chat", "note"})  # what only the dashboards with the conversation open get
# What a reconnecting dashboard needs, not a history (the conversation itself is in Cosmos DB): a log kept a week
# at 500 turns/s is ~7 GB of Redis. A conversation's numbering outlives its log, so a dashboard that kept its
# numbers sees a gap (and reads the conversation) rather than new events numbered from 1 again.
COUNTER_TTL_SECONDS = 30 * 24 * 3600
MAX_LOG_EVENTS = 1000  # per conversation: the newest are kept
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
# KEYS[2] the conversation's counter, KEYS[3] its log; ARGV[2] the log's lifetime, ARGV[3] the counter's, ARGV[4]
# how many events the log keeps, ARGV[5..] the events, numbered one after another in that order.
_PUBLISH = (
    _CURRENT_EPOCH
    + """
local n = #ARGV - 4
local last = redis.call('INCRBY', KEYS[2], n)
for i = 1, n do
  redis.call('ZADD', KEYS[3], last - n + i, ARGV[i + 4])
end
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -1 - tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return {last, epoch}
"""
)


def conversation_group(conversation: str) -> str:
    """The group of the dashboards that have ``conversation`` open: only they get its chat events. (Group names
    allow few characters and 100 of them; a conversation id given by a socket may be anything.)"""
    return "console.c." + hashlib.sha256(conversation.encode()).hexdigest()[:40]


def _keys(conversation: str) -> list[str]:
    return [f"console:seq:{conversation}", f"console:log:{conversation}"]


def _stored(event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The event as kept and sent, and its JSON. One too large for a dashboard (a frame every socket must carry,
    kept a week for resync) is replaced by a marker that makes dashboards read the conversation instead."""
    stored = {"id": uuid.uuid4().hex, **event}
    body = json.dumps(stored, separators=(",", ":"), default=str)
    if len(body) <= MAX_EVENT_BYTES:
        return stored, body
    stored = {
        "id": stored["id"],
        "kind": event.get("kind", "chat"),
        "event": {"type": "oversize"},
        "oversize": len(body),
    }
    return stored, json.dumps(stored, separators=(",", ":"))


class _Burst:
    """Events of one conversation on their way out: numbered by one Lua call, sent as one frame."""

    def __init__(self, conversation: str, burst: list[dict[str, Any]]) -> None:
        self.conversation = conversation
        self.stored = [_stored(event) for event in burst]

    def script_args(self) -> list[Any]:
        lifetimes = [settings.CONSOLE_FEED_LOG_SECONDS, COUNTER_TTL_SECONDS, MAX_LOG_EVENTS]
        return [3, EPOCH_KEY, *_keys(self.conversation), uuid.uuid4().hex, *lifetimes] + [
            body for _, body in self.stored
        ]

    def numbered(self, result: list[Any]) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        """The events with their numbers, and the channel-layer messages carrying them: (group, message), a frame
        per group, serialised once here rather than once per dashboard, spliced from the stored JSON (not
        re-dumped)."""
        last, epoch = int(result[0]), result[1]
        epoch = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
        first = last - len(self.stored) + 1
        where, era = json.dumps(self.conversation), json.dumps(epoch)
        numbered: list[dict[str, Any]] = []
        frames: dict[str, list[str]] = {}
        for offset, (stored, body) in enumerate(self.stored):
            seq = first + offset
            numbered.append({**stored, "conversation": self.conversation, "seq": seq, "epoch": epoch})
            group = conversation_group(self.conversation) if stored.get("kind") in DETAIL_KINDS else GROUP
            frames.setdefault(group, []).append(
                f'{{"type":"event",{body[1:-1]},"conversation":{where},"seq":{seq},"epoch":{era}}}'
            )
        return numbered, [(group, self._message(group, texts)) for group, texts in frames.items()]

    def _message(self, group: str, frames: list[str]) -> dict[str, Any]:
        """For the process's fan-out (returns_console.console.fanout): a conversation's chat events name it, for
        the dashboards there that have it open."""
        message: dict[str, Any] = {"type": "console.event", "events": frames}
        if group != GROUP:
            message["conversation"] = self.conversation
        return message


async def publish(conversation: str, event: dict[str, Any]) -> dict[str, Any]:
    """Number ``event`` for its conversation, keep it, and send it to every dashboard."""
    return (await publish_many(conversation, [event]))[0]


async def publish_many(conversation: str, burst: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``publish`` for several events of one conversation at once, numbered in order and sent as one frame
    (``{"type": "events", "events": [...]}`` when there are several)."""
    if not burst:
        return []
    out = _Burst(conversation, burst)
    result = await async_redis(settings.REDIS_URL).eval(_PUBLISH, *out.script_args())
    numbered, messages = out.numbered(result)
    layer = get_channel_layer()
    for group, message in messages:
        await layer.group_send(group, message)
    return numbered


async def epoch() -> str:
    """The feed's current epoch (made now if Redis has none)."""
    value = await async_redis(settings.REDIS_URL).eval(_EPOCH, 1, EPOCH_KEY, uuid.uuid4().hex)
    return value.decode() if isinstance(value, bytes) else str(value)


_sync_clients: dict[str, redis.Redis] = {}


def publish_sync(conversation: str, event: dict[str, Any]) -> dict[str, Any]:
    """``publish`` for sync code (API views in a thread, Celery tasks), on a sync Redis client: async_to_sync
    would start a thread, an event loop and a new Redis connection for every event (a third of a commit's CPU in
    the worker). The group send is the pub/sub layer's own: its serialisation, PUBLISHed on its group channel."""
    client = _sync_client()
    out = _Burst(conversation, [event])
    numbered, messages = out.numbered(client.eval(_PUBLISH, *out.script_args()))  # type: ignore[arg-type]
    layer = get_channel_layer()
    with client.pipeline(transaction=False) as pipe:
        for group, message in messages:
            pipe.publish(_group_channel(group), layer.serialize(message))
        pipe.execute()
    return numbered[0]


def _sync_client() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _sync_clients:
        _sync_clients[url] = redis.Redis.from_url(url, socket_timeout=5)
    return _sync_clients[url]


def _group_channel(group: str) -> str:
    """Where channels_redis' RedisPubSubChannelLayer publishes a group's messages (one Redis, as configured)."""
    layer = settings.CHANNEL_LAYERS["default"]
    if layer["BACKEND"] != "channels_redis.pubsub.RedisPubSubChannelLayer" or len(layer["CONFIG"]["hosts"]) != 1:
        raise ImproperlyConfigured("publish_sync speaks the Redis pub/sub channel layer on one host")
    return f"{layer['CONFIG'].get('prefix', 'asgi')}__group__{group}"


async def since(conversation: str, last_seq: int) -> list[dict[str, Any]]:
    """The conversation's events after ``last_seq``, in order (at most MAX_RESYNC; ask again for more)."""
    return (await replay(conversation, last_seq)).events


@dataclass(frozen=True)
class Replay:
    events: list[dict[str, Any]]
    complete: bool  # False: the log no longer holds all that was missed; read the conversation instead


async def replay(conversation: str, last_seq: int) -> Replay:
    """``since``, and whether it covers everything after ``last_seq``: the log keeps the newest MAX_LOG_EVENTS for
    CONSOLE_FEED_LOG_SECONDS, so a dashboard away longer (or further behind) is told to read the conversation."""
    seq_key, log_key = _keys(conversation)
    async with async_redis(settings.REDIS_URL).pipeline(transaction=True) as pipe:
        pipe.zrangebyscore(log_key, f"({last_seq}", "+inf", start=0, num=MAX_RESYNC, withscores=True)
        pipe.get(seq_key)
        rows, counter = await pipe.execute()
    events = [{**json.loads(body), "conversation": conversation, "seq": int(score)} for body, score in rows]
    first = events[0]["seq"] if events else int(counter or 0) + 1
    return Replay(events, complete=first <= last_seq + 1)


async def last_seq(conversation: str) -> int:
    return (await last_seqs([conversation]))[conversation]


async def last_seqs(conversations: list[str]) -> dict[str, int]:
    """Each conversation's feed position, in one round trip (the list asks for up to 200)."""
    if not conversations:
        return {}
    values = await async_redis(settings.REDIS_URL).mget([_keys(c)[0] for c in conversations])
    return {c: int(value or 0) for c, value in zip(conversations, values, strict=True)}


def events_in(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The events one dashboard frame carries: ``{"type": "event", ...}`` is one, ``{"type": "events"}`` a burst."""
    if frame.get("type") == "event":
        return [frame]
    if frame.get("type") == "events":
        return list(frame.get("events", []))
    return []
