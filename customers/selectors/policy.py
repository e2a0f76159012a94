"""Which return policy is in force: the newest active row, or the documented defaults when admins set none."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import ReturnPolicySettings
from customers.policy import DEFAULT_POLICY, ReturnPolicy


def _in_force() -> QuerySet[ReturnPolicySettings]:
    return ReturnPolicySettings.objects.filter(is_active=True).order_by("-updated_at", "-pk")


def active_policy() -> ReturnPolicy:
    row = _in_force().first()
    return row.to_policy() if row else DEFAULT_POLICY


async def aactive_policy() -> ReturnPolicy:
    row = await _in_force().afirst()
    return row.to_policy() if row else DEFAULT_POLICY
