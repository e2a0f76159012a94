"""Who has which conversation open, so two agents do not work one customer without knowing it (the "also
viewing" of Intercom and Zendesk).

Presence is ephemeral and shared by every web process, so it lives in Redis: one sorted set per conversation,
a member per open dashboard (its socket and its user), scored by when it lapses. A dashboard refreshes its
entry while it stays (``REFRESH_SECONDS``); a closed socket removes it, and a process that dies leaves
entries that lapse after ``TTL_SECONDS``. Presence is not part of the numbered conversation feed: replaying
who was looking an hour ago would be wrong, so a reconnecting dashboard asks afresh.
"""

from __future__ import annotations

import math
import time

from django.conf import settings

from customers.redis_client import async_redis

TTL_SECONDS = 60
REFRESH_SECONDS = 25  # the dashboard says it is still there this often (well inside the TTL)


def _key(conversation: str) -> str:
    return f"console:viewers:{conversation}"


def _member(socket: str, username: str) -> str:
    return f"{socket}|{username}"  # Django usernames cannot contain "|"


def _names(members: list[bytes]) -> list[str]:
    return sorted({member.decode().split("|", 1)[1] for member in members})


async def arrive(conversation: str, socket: str, username: str) -> list[str]:
    """``username`` has ``conversation`` open on ``socket`` (again): who has it open now."""
    now = time.time()
    pipe = async_redis(settings.REDIS_URL).pipeline(transaction=True)
    pipe.zadd(_key(conversation), {_member(socket, username): now + TTL_SECONDS})
    pipe.expire(_key(conversation), math.ceil(TTL_SECONDS))
    pipe.zremrangebyscore(_key(conversation), "-inf", now)
    pipe.zrange(_key(conversation), 0, -1)
    return _names((await pipe.execute())[-1])


async def leave(conversation: str, socket: str, username: str) -> list[str]:
    """``socket`` closed ``conversation``: who still has it open."""
    pipe = async_redis(settings.REDIS_URL).pipeline(transaction=True)
    pipe.zrem(_key(conversation), _member(socket, username))
    pipe.zremrangebyscore(_key(conversation), "-inf", time.time())
    pipe.zrange(_key(conversation), 0, -1)
    return _names((await pipe.execute())[-1])


async def viewers(conversations: list[str]) -> dict[str, list[str]]:
    """Who has each conversation open, in one round trip (for the list)."""
    if not conversations:
        return {}
    pipe = async_redis(settings.REDIS_URL).pipeline(transaction=False)
    for conversation in conversations:
        pipe.zrangebyscore(_key(conversation), time.time(), "+inf")
    answers = await pipe.execute()
    return {c: _names(members) for c, members in zip(conversations, answers, strict=True)}
