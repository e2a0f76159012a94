"""Failed-attempt limits in Redis, shared by every web process (fixed windows).

An attempt is counted *before* it is evaluated, in one atomic step with the check: checking first and recording the
failure later let 40 parallel wrong guesses through a 10-try window 17-19 times. A successful attempt gives its
count back, so only failures use up the window and a customer who signs in often never locks themselves out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings

from customers.redis_client import async_redis

PREFIX = "returns:ratelimit:"

# KEYS: the buckets; ARGV: limit and window (seconds) for each bucket in turn. If any bucket is full nothing is
# counted and the reply is the seconds until the last full one empties; otherwise every bucket is counted, reply 0.
RESERVE = """
local wait = 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
    wait = math.max(wait, redis.call('TTL', key), 1)
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i]))
  end
end
return 0
"""
# Gives one count back to each bucket that still exists (an expired window has nothing to give back to).
RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


@dataclass(frozen=True)
class Bucket:
    """One thing attempts are counted against (an address, an email, a username), at most ``limit`` failures
    in a window of ``window_seconds`` that starts at the first one."""

    name: str
    limit: int
    window_seconds: int


@dataclass(frozen=True)
class Attempt:
    allowed: bool
    retry_after_seconds: int = 0


def _client() -> aioredis.Redis:
    return async_redis(settings.REDIS_URL)


async def reserve(buckets: Sequence[Bucket]) -> Attempt:
    """Count one attempt against every bucket unless one is already full, atomically, so N parallel attempts
    can never get more than ``limit`` evaluated. Call :func:`release` when the attempt succeeds.

    Raises ``RedisError`` when Redis is away: callers refuse rather than let guesses through unlimited.
    """
    keys = [PREFIX + bucket.name for bucket in buckets]
    args = [value for bucket in buckets for value in (bucket.limit, bucket.window_seconds)]
    wait = int(await _client().eval(RESERVE, len(keys), *keys, *args))
    return Attempt(allowed=wait == 0, retry_after_seconds=wait)


async def release(buckets: Sequence[Bucket]) -> None:
    """Give back the count of an attempt that succeeded (or never got to be judged): only failures count."""
    keys = [PREFIX + bucket.name for bucket in buckets]
    await _client().eval(RELEASE, len(keys), *keys)
