"""Which return policy is in force: the newest active row, or the documented defaults when admins set none."""

from __future__ import annotations

import time

from django.db.models import QuerySet

from customers.models import ReturnPolicySettings
from customers.policy import DEFAULT_POLICY, ReturnPolicy

# Every chat turn needs the policy; admins change it rarely. Re-reading it at most this often keeps a
# database round trip off each turn while an admin's edit still applies within seconds.
POLICY_CACHE_SECONDS = 5.0
_cached: tuple[float, ReturnPolicy] | None = None


def _in_force() -> QuerySet[ReturnPolicySettings]:
    return ReturnPolicySettings.objects.filter(is_active=True).order_by("-updated_at", "-pk")


def active_policy() -> ReturnPolicy:
    row = _in_force().first()
    return row.to_policy() if row else DEFAULT_POLICY


async def aactive_policy() -> ReturnPolicy:
    global _cached
    now = time.monotonic()
    if _cached is None or now - _cached[0] > POLICY_CACHE_SECONDS:
        row = await _in_force().afirst()
        _cached = (now, row.to_policy() if row else DEFAULT_POLICY)
    return _cached[1]


def forget_cached_policy() -> None:
    """Called when admins save a policy, so this process applies it at once."""
    global _cached
    _cached = None
