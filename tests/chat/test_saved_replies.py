"""Saved replies: admins write them with a few named placeholders; agents get them filled in per conversation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from chat.models import SavedReply
from chat.saved_replies import fill, placeholder_errors


def test_placeholders_are_filled_for_the_customer_and_the_agent():
    body = "Hi {first_name}! ({customer_name}) - {agent_name}"
    assert fill(body, customer_name="Robert Johnson", agent_name="Ada") == "Hi Robert! (Robert Johnson) - Ada"


def test_a_customer_without_a_name_is_greeted_as_there():
    assert fill("Hi {first_name}, {customer_name}.", customer_name=" ", agent_name="Ada") == "Hi there, there."


def test_literal_braces_are_written_doubled():
    assert placeholder_errors("Use code {{SAVE10}}, {first_name}") == []
    assert fill("Use code {{SAVE10}}", customer_name="Maria", agent_name="Ada") == "Use code {SAVE10}"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("Hi {name}", "Unknown placeholder {name}"),
        ("Hi {first_name.__class__}", "Unknown placeholder {first_name.__class__}"),
        ("Hi {first_name[0]}", "Unknown placeholder {first_name[0]}"),
        ("Hi {first_name:>20}", "Unknown placeholder {first_name:>20}"),
        ("Hi {first_name!r}", "Unknown placeholder {first_name!r}"),
        ("Hi {}", "Unknown placeholder {}"),
        ("Hi {first_name", "literal braces"),
    ],
)
def test_anything_but_the_named_placeholders_is_refused_with_a_reason(body: str, complaint: str):
    errors = placeholder_errors(body)
    assert errors and complaint in errors[0]
    assert fill(body, customer_name="Maria", agent_name="Ada") == body  # never half-filled or evaluated


@pytest.mark.django_db
def test_the_admin_cannot_save_a_reply_with_a_bad_placeholder():
    with pytest.raises(ValidationError) as refused:
        SavedReply(title="Oops", body="Hello {customer}").full_clean()
    assert "Unknown placeholder {customer}" in str(refused.value)
    SavedReply(title="Fine", body="Hello {customer_name}").full_clean()


@pytest.mark.django_db
def test_a_team_starts_with_everyday_replies_that_are_all_valid():
    replies = list(SavedReply.objects.all())
    assert len(replies) >= 4 and all(not placeholder_errors(r.body) for r in replies)


@pytest.mark.django_db
def test_admins_write_saved_replies_in_django_admin_and_are_told_the_placeholders(client):
    from django.contrib.auth import get_user_model

    from customers.services.staff import ensure_demo_staff

    ensure_demo_staff("pw-demo-1")
    client.force_login(get_user_model().objects.get(username="supervisor"))  # supervisors keep them
    form = client.get("/admin/chat/savedreply/add/").content.decode()
    assert "{first_name}" in form and "{agent_name}" in form
    refused = client.post("/admin/chat/savedreply/add/", {"title": "Bad", "body": "Hi {name}", "active": "on"})
    assert refused.status_code == 200 and "Unknown placeholder {name}" in refused.content.decode()
    saved = client.post("/admin/chat/savedreply/add/", {"title": "Good", "body": "Hi {first_name}", "active": "on"})
    assert saved.status_code == 302 and SavedReply.objects.filter(title="Good").exists()
    client.force_login(get_user_model().objects.get(username="agent"))
    assert client.get("/admin/chat/savedreply/add/").status_code in (302, 403)  # agents use them, not edit them
