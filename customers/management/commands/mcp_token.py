"""python manage.py mcp_token <username> [--name NAME] | --revoke PREFIX | --list: staff's bearer tokens for /mcp/.

A new token goes to stdout alone on its line (``TOKEN=$(python manage.py mcp_token agent)``), what to do with it to
stderr; it is shown only this once: only its hash is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.errors import ReturnsError
from customers.models import McpToken
from customers.services import mcp_tokens

LABEL = "manage.py mcp_token"


class Command(BaseCommand):
    help = "Make a bearer token for a staff member's AI client to use the MCP server at /mcp/, list or revoke them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="An active staff account.")
        parser.add_argument("--name", default="", help="What the token is for, e.g. the AI client or machine.")
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--revoke", metavar="PREFIX", help="Revoke the user's token with this prefix instead.")
        what.add_argument("--list", action="store_true", help="List the user's tokens instead (never the tokens).")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        if options["list"]:
            self._list(user)
        elif options["revoke"]:
            self._revoke(user, options["revoke"].strip())
        else:
            self._create(user, options["name"])

    def _create(self, user: Any, name: str) -> None:
        if not user.is_active:
            raise CommandError(f"{user.get_username()} is inactive: only active staff may hold an MCP token.")
        if not user.is_staff:
            raise CommandError(f"{user.get_username()} is not staff: only active staff may hold an MCP token.")
        try:
            plain, row = mcp_tokens.create_token(user, name, label=LABEL)
        except ReturnsError as refused:
            raise CommandError(refused.message) from None
        self.stderr.write(
            f"MCP token {row.prefix} for {user.get_username()}{f' ({row.name})' if row.name else ''}. "
            "Copy it now: it is shown only this once. The AI client sends it as "
            "'Authorization: Bearer <token>' to /mcp/."
        )
        self.stdout.write(plain)

    def _revoke(self, user: Any, prefix: str) -> None:
        row = McpToken.objects.select_related("user").filter(user=user, prefix=prefix).first()
        if row is None:
            raise CommandError(f"{user.get_username()} has no MCP token with the prefix {prefix!r}.")
        if mcp_tokens.revoke(row, label=LABEL):
            self.stdout.write(f"Revoked MCP token {row.prefix} of {user.get_username()}.")
        else:
            self.stdout.write(
                f"MCP token {row.prefix} of {user.get_username()} was already revoked ({row.revoked_at})."
            )

    def _list(self, user: Any) -> None:
        rows = McpToken.objects.filter(user=user).order_by("-created_at", "-id")
        if not rows:
            self.stdout.write(f"{user.get_username()} has no MCP tokens.")
        for row in rows:
            used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
            state = f"revoked {row.revoked_at.isoformat(timespec='seconds')}" if row.revoked_at else "active"
            self.stdout.write(
                f"{row.prefix}  {row.name or '-'}  created {row.created_at.isoformat(timespec='seconds')}  "
                f"last used {used}  {state}"
            )
