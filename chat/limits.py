"""What one customer may send: the size of a message, of a thread title, how many turns a thread holds, and how
fast turns come.

One customer must not be able to slow everyone else down: 1,000 messages in 27 s were all answered, and three
loops of 64 KB messages pushed other customers' page loads from 5 ms to 846 ms. Turns are admitted through a
token bucket per customer in Redis (shared by every web process), refilled continuously, so a person typing and
clicking never meets it and a script does at once.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from customers.redis_client import async_redis

logger = logging.getLogger(__name__)

PREFIX = "returns:chatlimit:"
THREAD_TURNS_TTL_SECONDS = 90 * 86400
# One round trip: refill the customer's bucket by the time passed (Redis's clock, the same for every process),
# take a token if there is one, and count the turn against its thread. The count numbers the thread's turns, and
# the generation (stamped when a count starts, and again when the thread changes outside a turn) tells a count that
# restarted (Redis lost it) from one that went on: web processes keep a thread between its turns by that number
# (chat.store). Returns {admitted, retry_after_ms, turns, generation}.
ADMIT = """
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2]) / 60000
local max_turns = tonumber(ARGV[3])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now_ms
tokens = math.min(capacity, tokens + math.max(0, now_ms - at) * per_ms)
local idle_ms = math.ceil(capacity / per_ms)
if tokens < 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now_ms)
  redis.call('PEXPIRE', KEYS[1], idle_ms)
  return {0, math.ceil((1 - tokens) / per_ms), 0, ''}
end
local turns = 0
local generation = ''
if KEYS[2] ~= '' then
  turns = tonumber(redis.call('GET', KEYS[2]) or '0')
  if turns >= max_turns then
    return {0, 0, turns, ''}
  end
  turns = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
  generation = redis.call('GET', KEYS[3])
  if not generation or turns == 1 then
    generation = now[1] .. '.' .. now[2]
  end
  redis.call('SET', KEYS[3], generation, 'EX', tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now_ms)
redis.call('PEXPIRE', KEYS[1], idle_ms)
return {1, 0, turns, generation}
"""


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    retry_after_seconds: int | None = None


def _text_length(request: Any) -> int:
    params = getattr(request, "params", None)
    content = getattr(getattr(params, "input", None), "content", None) or []
    return sum(len(getattr(part, "text", "") or "") for part in content)


def check_content(request: Any) -> Refusal | None:
    """A message or thread title over its bound, before anything is stored or answered."""
    limit = settings.CHAT_MESSAGE_MAX_CHARS
    if _text_length(request) > limit:
        return Refusal(
            413,
            "message_too_long",
            f"Messages are limited to {limit:,} characters. Please shorten it or send it in parts.",
        )
    title = getattr(getattr(request, "params", None), "title", None)
    if isinstance(title, str) and len(title) > settings.CHAT_THREAD_TITLE_MAX_CHARS:
        return Refusal(
            400, "title_too_long", f"Titles are limited to {settings.CHAT_THREAD_TITLE_MAX_CHARS} characters."
        )
    return None


@dataclass(frozen=True)
class ThreadTurn:
    """Which turn of its thread a request is: the ``number``-th since the count of ``generation`` started."""

    generation: str
    number: int

    def previous(self) -> ThreadTurn:
        return ThreadTurn(self.generation, self.number - 1)


@dataclass(frozen=True)
class Admission:
    """A turn let through (``refusal`` None) or not; ``turn`` is its number in an existing thread, when known."""

    refusal: Refusal | None = None
    turn: ThreadTurn | None = None


def _keys(customer_id: str, thread_id: str | None) -> list[str]:
    thread = [f"{PREFIX}turns:{thread_id}", f"{PREFIX}generation:{thread_id}"] if thread_id else ["", ""]
    return [f"{PREFIX}bucket:{customer_id}", *thread]


async def admit_turn(customer_id: str, thread_id: str | None) -> Admission:
    """Take a token from the customer's bucket and count the turn against its thread (``None`` for a new one).

    Redis away: the turn goes ahead (the limits protect others' speed; refusing every customer would be the
    outage they guard against), unnumbered, and the failure is logged.
    """
    args = [
        settings.CHAT_RATE_BURST,
        settings.CHAT_RATE_PER_MINUTE,
        settings.CHAT_THREAD_MAX_TURNS,
        THREAD_TURNS_TTL_SECONDS,
    ]
    try:
        admitted, retry_after_ms, turns, generation = await async_redis(settings.REDIS_URL).eval(
            ADMIT, 3, *_keys(customer_id, thread_id), *args
        )
    except (RedisError, OSError) as failure:
        logger.warning("turn admitted without the rate limit (Redis: %s)", failure)
        return Admission()
    if admitted:
        generation = generation.decode() if isinstance(generation, bytes) else str(generation)
        return Admission(turn=ThreadTurn(generation, int(turns)) if generation else None)
    if retry_after_ms:
        seconds = max(1, math.ceil(int(retry_after_ms) / 1000))
        return Admission(
            Refusal(
                429,
                "rate_limited",
                f"You're sending messages faster than we can read them. Please wait {seconds} s and try again.",
                seconds,
            )
        )
    return Admission(
        Refusal(
            409,
            "thread_full",
            f"This conversation has reached {int(turns):,} messages. Please start a new conversation to continue.",
        )
    )


async def thread_changed_outside_turns(thread_id: str) -> None:
    """A thread renamed or deleted: its count starts a new generation, so no process takes a copy kept from
    before for the thread as it is now (the count itself goes on: it bounds the thread's turns).

    Raises ``RedisError`` when Redis is away: the change must not go ahead while a kept copy could outlive it.
    """
    generation = f"changed-{uuid.uuid4().hex}"
    await async_redis(settings.REDIS_URL).set(
        f"{PREFIX}generation:{thread_id}", generation, ex=THREAD_TURNS_TTL_SECONDS
    )
