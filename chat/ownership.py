"""Conversation ids that carry proof of whose they are.

A thread id ends with an HMAC of the customer it was made for, an item id with an HMAC of its thread. The
ChatKit endpoint can then answer 404 for another customer's thread, a made-up id, or an item from another
thread before it reads anything, and start streaming the moment a request is checked. The store still reads
only the signed-in customer's partition, so this is a fast path, not the only guard.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_NONCE_HEX = 16
_TAG_HEX = 16
_SIGNED = re.compile(rf"^(?P<prefix>[a-z]+)_(?P<nonce>[0-9a-f]{{{_NONCE_HEX}}})(?P<tag>[0-9a-f]{{{_TAG_HEX}}})$")


def _tag(kind: str, owner: str, nonce: str, secret: str) -> str:
    return salted_hmac(f"chat.ownership.{kind}", f"{owner}|{nonce}", secret=secret).hexdigest()[:_TAG_HEX]


def _signed_id(prefix: str, kind: str, owner: str, seed: str | None = None) -> str:
    nonce = hashlib.sha256(seed.encode()).hexdigest()[:_NONCE_HEX] if seed else secrets.token_hex(_NONCE_HEX // 2)
    return f"{prefix}_{nonce}{_tag(kind, owner, nonce, settings.SECRET_KEY)}"


def _verifies(signed_id: str, kind: str, owner: str) -> bool:
    match = _SIGNED.match(signed_id)
    if match is None:
        return False
    # Ids made before a key rotation stay valid while the old key is listed in SECRET_KEY_FALLBACKS.
    for secret in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS):
        if constant_time_compare(match["tag"], _tag(kind, owner, match["nonce"], secret)):
            return True
    return False


def new_thread_id(customer_id: str, seed: str | None = None) -> str:
    """A new thread's id; with a ``seed``, the same id for the same seed, so a request made twice at once in two
    processes (an MCP client's retry) makes one thread, not two."""
    return _signed_id("thr", "thread", customer_id, seed)


def new_item_id(prefix: str, thread_id: str, seed: str | None = None) -> str:
    """A new item's id; with a ``seed``, the same id for the same seed (a message told twice replaces itself)."""
    return _signed_id(prefix, "item", thread_id, seed)


def owns_thread(customer_id: str, thread_id: str) -> bool:
    return _verifies(thread_id, "thread", customer_id)


def item_in_thread(thread_id: str, item_id: str) -> bool:
    return _verifies(item_id, "item", thread_id)
