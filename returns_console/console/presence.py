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


async def move(socket: str, username: str, leaving: str | None, arriving: str | None) -> dict[str, list[str]]:
    """``username`` on ``socket`` closed ``leaving`` and has ``arriving`` open (again), in one round trip: who
    has each open now (an agent going from one conversation to the next is the common case)."""
    now = time.time()
    pipe = async_redis(settings.REDIS_URL).pipeline(transaction=True)
    member = _member(socket, username)
    asked: list[tuple[str, int]] = []  # conversation, the position of its answer "who has it open"
    if leaving is not None and leaving != arriving:
        pipe.zrem(_key(leaving), member)
        pipe.zremrangebyscore(_key(leaving), "-inf", now)
        asked.append((leaving, len(pipe)))
        pipe.zrange(_key(leaving), 0, -1)
    if arriving is not None:
        pipe.zadd(_key(arriving), {member: now + TTL_SECONDS})
        pipe.expire(_key(arriving), math.ceil(TTL_SECONDS))
        pipe.zremrangebyscore(_key(arriving), "-inf", now)
        asked.append((arriving, len(pipe)))
        pipe.zrange(_key(arriving), 0, -1)
    answers = await pipe.execute()
    return {conversation: _names(answers[position]) for conversation, position in asked}


async def viewers(conversations: list[str]) -> dict[str, list[str]]:
    """Who has each conversation open, in one round trip (for the list)."""
    if not conversations:
        return {}
    pipe = async_redis(settings.REDIS_URL).pipeline(transaction=False)
    for conversation in conversations:
        pipe.zrangebyscore(_key(conversation), time.time(), "+inf")
    answers = await pipe.execute()
    return {c: _names(members) for c, members in zip(conversations, answers, strict=True)}
