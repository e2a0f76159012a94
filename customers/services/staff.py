"""Staff accounts and their approval limits."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from customers.models import StaffProfile

AGENTS = "Agents"
SUPERVISORS = "Supervisors"

# What each group may do beyond its members' own approval limits: supervisors approve above any agent's limit,
# retry failed commits, read the review records in the admin and keep the team's saved replies.
GROUP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AGENTS: (),
    SUPERVISORS: (
        "customers.approve_over_limit",
        "customers.view_proposal",
        "customers.view_auditentry",
        "customers.view_autoapprovalrule",
        "chat.view_conversation",
        "chat.view_feedback",
        "chat.view_savedreply",
        "chat.add_savedreply",
        "chat.change_savedreply",
        "chat.delete_savedreply",
    ),
}

# (username, group, approval limit or None for no limit, superuser)
DEMO_STAFF: tuple[tuple[str, str, Decimal | None, bool], ...] = (
    ("agent", AGENTS, Decimal("200.00"), False),
    ("supervisor", SUPERVISORS, None, False),
    ("admin", SUPERVISORS, None, True),
)
# What customers see of them (their first name): a login name is never shown to a customer.
DEMO_DISPLAY_NAMES = {"agent": "Ben", "supervisor": "Sam", "admin": "Alex"}


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


@transaction.atomic
def ensure_demo_staff(password: str) -> list[str]:
    """Create the demo staff if missing (idempotent); an existing account keeps its password and limit."""
    User = get_user_model()
    created: list[str] = []
    for username, group_name, limit, superuser in DEMO_STAFF:
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.add(*_permissions(GROUP_PERMISSIONS[group_name]))
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": True,
                "is_superuser": superuser,
                "email": f"{username}@returns.local",
                "first_name": DEMO_DISPLAY_NAMES[username],
            },
        )
        if not user.first_name:  # made before display names existed
            user.first_name = DEMO_DISPLAY_NAMES[username]
            user.save(update_fields=["first_name"])
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(username)
        user.groups.add(group)
        StaffProfile.objects.get_or_create(user=user, defaults={"approval_limit": limit})
    return created
