"""Which return policy is in force."""

from __future__ import annotations

from customers.models import ReturnPolicySettings
from customers.policy import DEFAULT_POLICY, ReturnPolicy


def active_policy() -> ReturnPolicy:
    """The newest active policy row, or the documented defaults when admins have not set one."""
    row = ReturnPolicySettings.objects.filter(is_active=True).order_by("-updated_at", "-pk").first()
    return row.to_policy() if row else DEFAULT_POLICY
