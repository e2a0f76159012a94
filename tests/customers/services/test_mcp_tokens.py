"""Staff tokens for the MCP server: shown once, stored as a hash, verified, revoked; only active staff hold working
ones. Also `manage.py mcp_token` and the admin that make and revoke them."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from customers import clock
from customers.errors import InvalidRequest
from customers.models import AuditAction, AuditEntry, McpToken
from customers.services import mcp_tokens

pytestmark = pytest.mark.django_db


def _user(username: str = "mia", *, staff: bool = True, active: bool = True, superuser: bool = False):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user(
        username, password="pw-12345-x", is_staff=staff, is_active=active, is_superuser=superuser
    )


def test_the_token_is_shown_once_and_only_its_hash_is_stored():
    user = _user()
    plain, row = mcp_tokens.create_token(user, "Claude on my laptop")
    assert mcp_tokens.TOKEN_SHAPE.match(plain)
    assert plain.startswith(f"rcmcp_{row.prefix}_")
    stored = McpToken.objects.get(pk=row.pk)
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert stored.name == "Claude on my laptop" and stored.revoked_at is None and stored.last_used_at is None
    secret = plain.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in McpToken.objects.filter(pk=row.pk).values().get().values())
    issued = AuditEntry.objects.get(action=AuditAction.MCP_TOKEN)
    assert row.prefix in issued.note and secret not in str(issued.after) and secret not in issued.note
    # Two tokens never share a prefix or a secret.
    other, other_row = mcp_tokens.create_token(user)
    assert other != plain and other_row.prefix != row.prefix


def test_a_working_token_names_its_user_and_notes_its_use_at_most_once_a_minute(settings):
    user = _user()
    plain, row = mcp_tokens.create_token(user)
    assert mcp_tokens.verify(plain) == user
    first_use = McpToken.objects.get(pk=row.pk).last_used_at
    assert first_use is not None
    assert mcp_tokens.authenticate(plain).last_used_at == first_use  # a second later: not written again
    settings.CLOCK_OFFSET_SECONDS = clock.offset_to(clock.now() + timedelta(minutes=2))
    assert mcp_tokens.authenticate(plain).last_used_at > first_use
    assert McpToken.objects.get(pk=row.pk).last_used_at > first_use


@pytest.mark.parametrize(
    "garbled",
    ["", "rcmcp_", "Bearer x", "rcmcp_zzzzzzzz_" + "a" * 32, "rcmcp_0123abcd_" + "a" * 31, "x" * 2000],
)
def test_what_is_not_a_token_is_refused_without_a_match(garbled: str):
    mcp_tokens.create_token(_user())
    assert mcp_tokens.verify(garbled) is None


def test_a_token_with_the_right_prefix_and_a_wrong_secret_is_refused():
    plain, row = mcp_tokens.create_token(_user())
    wrong = f"rcmcp_{row.prefix}_{'A' * 32}"
    assert wrong != plain and mcp_tokens.verify(wrong) is None


def test_a_revoked_token_stops_working_and_revoking_twice_changes_nothing():
    admin = _user("root", superuser=True)
    plain, row = mcp_tokens.create_token(_user())
    assert mcp_tokens.revoke(row, by=admin) is True
    assert mcp_tokens.verify(plain) is None
    revoked_at = McpToken.objects.get(pk=row.pk).revoked_at
    assert revoked_at is not None
    assert mcp_tokens.revoke(row, by=admin) is False
    assert McpToken.objects.get(pk=row.pk).revoked_at == revoked_at
    [entry] = AuditEntry.objects.filter(action=AuditAction.MCP_TOKEN_REVOKED)
    assert entry.actor == admin and row.prefix in entry.note


def test_only_active_staff_hold_tokens_and_a_holder_leaving_staff_stops_theirs():
    with pytest.raises(InvalidRequest, match="only active staff"):
        mcp_tokens.create_token(_user("customer-care-bot", staff=False))
    with pytest.raises(InvalidRequest, match="only active staff"):
        mcp_tokens.create_token(_user("left", active=False))
    user = _user()
    plain, _ = mcp_tokens.create_token(user)
    user.is_active = False
    user.save()
    assert mcp_tokens.verify(plain) is None
    user.is_active, user.is_staff = True, False
    user.save()
    assert mcp_tokens.verify(plain) is None
    user.is_staff = True
    user.save()
    assert mcp_tokens.verify(plain) == user  # not revoked: it works again once they are staff again


# --- manage.py mcp_token --------------------------------------------------------------------------
def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("mcp_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_a_working_token_once_alone_on_stdout():
    user = _user()
    out, err = _command("mia", "--name", "cursor")
    plain = out.strip()
    assert mcp_tokens.verify(plain) == user
    row = McpToken.objects.get(user=user)
    assert row.name == "cursor" and row.prefix in err and "only this once" in err and plain not in err
    assert AuditEntry.objects.get(action=AuditAction.MCP_TOKEN).actor_label == "manage.py mcp_token"
    listed, _ = _command("mia", "--list")
    assert row.prefix in listed and "active" in listed and plain not in listed and row.token_hash not in listed


def test_the_command_revokes_by_prefix():
    _user()
    plain = _command("mia")[0].strip()
    prefix = McpToken.objects.get().prefix
    out, _ = _command("mia", "--revoke", prefix)
    assert f"Revoked MCP token {prefix}" in out
    assert mcp_tokens.verify(plain) is None
    assert "already revoked" in _command("mia", "--revoke", prefix)[0]
    with pytest.raises(CommandError, match="no MCP token with the prefix 'ffffffff'"):
        _command("mia", "--revoke", "ffffffff")


@pytest.mark.parametrize(
    ("username", "staff", "active", "message"),
    [
        ("nobody", None, None, "No user is called 'nobody'"),
        ("shopper", False, True, "shopper is not staff"),
        ("gone", True, False, "gone is inactive"),
    ],
)
def test_the_command_refuses_unknown_inactive_and_non_staff_users(username, staff, active, message):  # type: ignore[no-untyped-def]
    if staff is not None:
        _user(username, staff=staff, active=active)
    with pytest.raises(CommandError, match=message):
        _command(username)
    assert not McpToken.objects.exists()


# --- admin -----------------------------------------------------------------------------------------
def test_an_admin_makes_a_token_sees_it_once_and_revokes_it(client):
    admin = _user("root", superuser=True)
    agent = _user("agent")
    _user("shopper", staff=False)
    client.force_login(admin)
    form = client.get("/admin/customers/mcptoken/add/")
    assert form.status_code == 200
    assert b">agent<" in form.content and b">shopper<" not in form.content  # only active staff offered
    made = client.post("/admin/customers/mcptoken/add/", {"user": agent.pk, "name": "laptop"}, follow=True)
    assert made.status_code == 200
    row = McpToken.objects.get(user=agent)
    [shown] = [str(m) for m in made.context["messages"] if "rcmcp_" in str(m)]
    plain = next(word for word in shown.split() if word.startswith("rcmcp_"))
    assert mcp_tokens.verify(plain) == agent and "only this once" in shown
    listing = client.get("/admin/customers/mcptoken/")
    assert row.prefix.encode() in listing.content
    assert row.token_hash.encode() not in listing.content and plain.encode() not in listing.content
    page = client.get(f"/admin/customers/mcptoken/{row.pk}/change/")
    assert row.token_hash.encode() not in page.content and plain.encode() not in page.content
    client.post(
        "/admin/customers/mcptoken/",
        {"action": "revoke_tokens", "_selected_action": [row.pk]},
        follow=True,
    )
    assert mcp_tokens.verify(plain) is None
    assert client.post(f"/admin/customers/mcptoken/{row.pk}/delete/", {"post": "yes"}).status_code == 403
