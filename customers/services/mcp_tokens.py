"""Bearer tokens for the MCP server (/mcp/): one per staff member and AI client, shown once, stored as a hash.

A token reads ``rcmcp_<prefix>_<secret>``: the prefix (8 hex digits) names it in the admin, the audit log and
``manage.py mcp_token --revoke``; the secret (32 letters and digits, about 190 bits) is the credential. Only the
SHA-256 of the whole token is stored, so neither the database nor a backup holds a token that works: a lost token
is revoked and a new one made. Only active staff hold working tokens: an account made inactive, or no longer
staff, stops authenticating at once, without its tokens being revoked one by one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from datetime import timedelta
from typing import Any

from django.db import transaction

from customers import clock
from customers.errors import InvalidRequest
from customers.models import AuditAction, McpToken
from customers.services import audit

TOKEN_START = "rcmcp_"
PREFIX_HEX = 8
SECRET_CHARS = 32
SECRET_ALPHABET = string.ascii_letters + string.digits
TOKEN_SHAPE = re.compile(
    rf"^{TOKEN_START}(?P<prefix>[0-9a-f]{{{PREFIX_HEX}}})_(?P<secret>[A-Za-z0-9]{{{SECRET_CHARS}}})$"
)
# A token in use writes its last use at most this often: one write a minute, not one per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX = 100


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def may_hold_token(user: Any) -> bool:
    return bool(user is not None and user.is_active and user.is_staff)


def _token_json(row: McpToken) -> dict[str, Any]:
    return {"prefix": row.prefix, "user": row.user.get_username(), "name": row.name}


@transaction.atomic
def create_token(
    user: Any, name: str = "", *, row: McpToken | None = None, issued_by: Any = None, label: str = ""
) -> tuple[str, McpToken]:
    """A new token for ``user`` (an active member of staff): the plain token, to show once, and its row.

    ``row`` is an unsaved ``McpToken`` to fill in (the admin's add form), else one is made. ``issued_by`` (or
    ``label`` when no user acted, e.g. the management command) is who the audit log names.
    """
    if not may_hold_token(user):
        raise InvalidRequest(
            f"{user.get_username()} is not an active member of staff: only active staff may hold an MCP token."
        )
    row = row if row is not None else McpToken()
    row.user, row.name = user, (name or "").strip()[:NAME_MAX]
    prefix = secrets.token_hex(PREFIX_HEX // 2)
    while McpToken.objects.filter(prefix=prefix).exists():  # one in four billion; the unique index still guards
        prefix = secrets.token_hex(PREFIX_HEX // 2)
    plain = f"{TOKEN_START}{prefix}_{''.join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_CHARS))}"
    row.prefix, row.token_hash = prefix, hash_token(plain)
    row.save()
    audit.record(
        AuditAction.MCP_TOKEN,
        user=issued_by,
        label=label,
        after=_token_json(row),
        note=f"MCP token {prefix} for {user.get_username()}{f' ({row.name})' if row.name else ''}",
    )
    return plain, row


def authenticate(plain: str | None) -> McpToken | None:
    """The token's row (with its user) when ``plain`` is a working token, else None; notes when it was used."""
    match = TOKEN_SHAPE.match(plain or "")
    if match is None:
        return None
    row = McpToken.objects.select_related("user").filter(token_hash=hash_token(plain or "")).first()
    if row is None or row.prefix != match["prefix"] or row.revoked_at is not None or not may_hold_token(row.user):
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        McpToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


def verify(plain: str | None) -> Any:
    """The staff user a working token belongs to, else None."""
    row = authenticate(plain)
    return row.user if row else None


@transaction.atomic
def revoke(row: McpToken, *, by: Any = None, label: str = "") -> bool:
    """Revoke the token from now on; False when it already was (nothing changes then)."""
    now = clock.now()
    if not McpToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(revoked_at=now):
        row.refresh_from_db(fields=["revoked_at"])
        return False
    row.revoked_at = now
    audit.record(
        AuditAction.MCP_TOKEN_REVOKED,
        user=by,
        label=label,
        after=_token_json(row),
        note=f"MCP token {row.prefix} of {row.user.get_username()} revoked",
    )
    return True
