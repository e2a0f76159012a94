"""An insert with its SQL built once stores exactly what the ORM's save() stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Upper

from chat.models import AssistantTurn, ConversationMessage
from customers import clock
from customers.inserts import PreparedInsert

pytestmark = pytest.mark.django_db


def _stored(model: type, pk: int) -> dict:
    row = model.objects.get(pk=pk)
    return {
        field.attname: getattr(row, field.attname) for field in model._meta.concrete_fields if not field.primary_key
    }


def _turn(**extra: object) -> AssistantTurn:
    return AssistantTurn(
        thread_id="thr_insert",
        customer_id="CUST-1001",
        engine="llm: gpt (azure)",
        tool_calls=[{"name": "quote", "arguments": {"sku": "HUB-SMART-2", "cents": 9899}}],
        item_ids=["msg_a", "msg_b"],
        step="reason",
        **extra,
    )


def test_it_stores_every_field_as_save_does_and_the_instance_knows_its_row():
    inserted = PreparedInsert(AssistantTurn)
    at = datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=UTC)
    for extra in ({}, {"created_at": at}, {}):  # the app's clock, a moment set before, and the SQL reused
        ours, theirs = _turn(**extra), _turn(**extra)
        assert inserted.insert(ours) is ours
        theirs.save()
        assert ours.pk is not None and ours.pk != theirs.pk
        assert not ours._state.adding and ours._state.db == theirs._state.db
        expected = _stored(AssistantTurn, theirs.pk)
        got = _stored(AssistantTurn, ours.pk)
        if not extra:  # each read the clock when stored
            assert abs(got.pop("created_at") - expected.pop("created_at")).total_seconds() < 60
            assert ours.created_at.tzinfo is not None
        assert got == expected
    assert _stored(AssistantTurn, ours.pk)["tool_calls"][0]["arguments"]["cents"] == 9899
    assert AssistantTurn.objects.filter(created_at=at).count() == 2


def test_a_row_stored_once_is_not_stored_again():
    message = ConversationMessage(thread_id="thr_insert", author=ConversationMessage.CLICK, text="chose Store Credit")
    inserts = PreparedInsert(ConversationMessage)
    inserts.insert(message)
    with pytest.raises(ValueError, match="already stored"):
        inserts.insert(message)
    assert ConversationMessage.objects.filter(thread_id="thr_insert").count() == 1


def test_it_belongs_to_the_transaction_it_runs_in():
    inserts = PreparedInsert(ConversationMessage)
    with pytest.raises(RuntimeError), transaction.atomic():
        inserts.insert(
            ConversationMessage(thread_id="thr_undone", author="customer", text="hello", created_at=clock.now())
        )
        raise RuntimeError("the turn failed")
    assert not ConversationMessage.objects.filter(thread_id="thr_undone").exists()


def test_a_value_made_by_the_database_goes_the_orms_way_and_leaves_the_statement_plain():
    inserts = PreparedInsert(ConversationMessage)
    message = ConversationMessage(thread_id="thr_expr", author="customer", text=Upper(Value("hello")))
    inserts.insert(message)
    assert ConversationMessage.objects.get(pk=message.pk).text == "HELLO"
    plain = inserts.insert(ConversationMessage(thread_id="thr_expr", author="customer", text="hello again"))
    assert ConversationMessage.objects.get(pk=plain.pk).text == "hello again"
