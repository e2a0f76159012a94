"""Staff accounts and their approval limits."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from customers.models import StaffProfile

AGENTS = "Agents"
SUPERVISORS = "Supervisors"

# (username, group, approval limit or None for no limit, superuser)
DEMO_STAFF: tuple[tuple[str, str, Decimal | None, bool], ...] = (
    ("agent", AGENTS, Decimal("200.00"), False),
    ("supervisor", SUPERVISORS, None, False),
    ("admin", SUPERVISORS, None, True),
)


@transaction.atomic
def ensure_demo_staff(password: str) -> list[str]:
    """Create the demo staff if missing (idempotent); an existing account keeps its password and limit."""
    User = get_user_model()
    created: list[str] = []
    for username, group_name, limit, superuser in DEMO_STAFF:
        group, _ = Group.objects.get_or_create(name=group_name)
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": superuser, "email": f"{username}@returns.local"},
        )
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(username)
        user.groups.add(group)
        StaffProfile.objects.get_or_create(user=user, defaults={"approval_limit": limit})
    return created
