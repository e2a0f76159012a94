"""A unique lookup with its SQL built once gives exactly what the ORM's get() gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from chat.models import Attention, Conversation, ConversationMode
from customers.lookups import UniqueLookup

pytestmark = pytest.mark.django_db


def _fields(conversation: Conversation) -> dict:
    return {field.attname: getattr(conversation, field.attname) for field in Conversation._meta.concrete_fields}


def test_it_reads_every_field_as_the_orm_does():
    agent = get_user_model().objects.create_user("lookup-agent", password="pw-lookup-1")
    Conversation.objects.create(
        thread_id="thr_lookup_1",
        customer_id="CUST-1001",
        customer_name="Robert Johnson",
        mode=ConversationMode.HUMAN,
        attention=Attention.ASKED_FOR_PERSON,
        attention_since=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
        assigned_to=agent,
        customer_messages=3,
    )
    Conversation.objects.create(thread_id="thr_lookup_2", customer_id="CUST-1002")
    lookup = UniqueLookup(Conversation, "thread_id")
    for thread_id in ("thr_lookup_1", "thr_lookup_2", "thr_lookup_1"):  # the second call reuses the SQL
        found, expected = lookup.get(thread_id), Conversation.objects.get(thread_id=thread_id)
        assert _fields(found) == _fields(expected)
        assert found.pk == expected.pk and not found._state.adding and found._state.db == expected._state.db
    found = lookup.get("thr_lookup_1")
    assert found.attention_since.tzinfo is not None and found.assigned_to == agent  # aware times, relations
    found.customer_messages += 1
    found.save(update_fields=["customer_messages"])  # an instance the ORM can save
    assert Conversation.objects.get(thread_id="thr_lookup_1").customer_messages == 4


def test_a_missing_row_raises_does_not_exist_and_a_value_is_never_spliced_into_the_sql():
    lookup = UniqueLookup(Conversation, "thread_id")
    with pytest.raises(Conversation.DoesNotExist):
        lookup.get("thr_missing")
    with pytest.raises(Conversation.DoesNotExist):
        lookup.get("x' OR '1'='1")


def test_only_unique_fields():
    with pytest.raises(ValueError, match="not unique"):
        UniqueLookup(Conversation, "customer_id")
