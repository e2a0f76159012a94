"""A unique lookup with its SQL built once gives exactly what the ORM's get() gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from chat.models import Attention, Conversation, ConversationMode
from customers.lookups import UniqueLookup
from customers.models import Proposal

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


def test_with_select_related_the_related_rows_come_in_the_same_query(django_assert_num_queries):
    agent = get_user_model().objects.create_user("lookup-assignee", password="pw-lookup-2", first_name="Ana")
    Conversation.objects.create(thread_id="thr_lookup_3", customer_id="CUST-1001", assigned_to=agent)
    Conversation.objects.create(thread_id="thr_lookup_4", customer_id="CUST-1002")  # nobody assigned: a null join
    lookup = UniqueLookup(Conversation, "thread_id", select_related=("assigned_to",))
    for thread_id in ("thr_lookup_3", "thr_lookup_4", "thr_lookup_3"):
        expected = Conversation.objects.select_related("assigned_to").get(thread_id=thread_id)
        with django_assert_num_queries(1):
            found = lookup.get(thread_id)
            assignee = found.assigned_to  # read from the same row: no second query
        assert _fields(found) == _fields(expected)
        assert (assignee and assignee.first_name) == (expected.assigned_to and expected.assigned_to.first_name)
        assert (assignee is None) == (thread_id == "thr_lookup_4")


def test_a_number_the_column_cannot_hold_is_simply_not_found():
    lookup = UniqueLookup(Proposal, "id")
    for number in (10**30, -(10**30), 2**63):
        with pytest.raises(Proposal.DoesNotExist):
            lookup.get(number)
        assert not Proposal.objects.filter(pk=number).exists()  # as the ORM says
