"""What a member of staff may decide on their own. The supervisor check lives here and nowhere else."""

from __future__ import annotations

from typing import Any

from customers.errors import ReturnsError
from customers.models import StaffProfile
from customers.money import amount

SUPERVISOR_PERMISSION = "customers.approve_over_limit"


class OverApprovalLimit(ReturnsError):
    code = "over_approval_limit"


class SupervisorsOnly(ReturnsError):
    code = "supervisors_only"


money = amount  # what limits and refusals write


def is_supervisor(user: Any) -> bool:
    """Supervisors approve above limits, retry and close failed commits, override amounts upwards and
    switch conversations to assistant mode."""
    return bool(user.is_superuser or user.has_perm(SUPERVISOR_PERMISSION))


def require_supervisor(user: Any, what: str) -> None:
    if not is_supervisor(user):
        raise SupervisorsOnly(f"Only a supervisor can {what}.")


def approval_limit_cents(user: Any) -> int | None:
    """None means no limit. Supervisors have none; staff without a profile have 0 until an admin sets theirs,
    so a forgotten profile never means unlimited."""
    if is_supervisor(user):
        return None
    profile = StaffProfile.objects.filter(user=user).first()
    return 0 if profile is None else profile.approval_limit_cents


def check_approval_limit(user: Any, total_cents: int) -> None:
    limit = approval_limit_cents(user)
    if limit is not None and total_cents > limit:
        raise OverApprovalLimit(
            f"{money(total_cents)} is above your approval limit of {money(limit)}: a supervisor must approve it."
        )
