"""An MCP request for a customer with no conversation, made at the same moment in two server processes (where the
in-process filing lock does not reach): one conversation, so the proposal's (thread, key) uniqueness files one."""

from __future__ import annotations

import asyncio

import pytest

from chat import ownership
from chat.models import Conversation
from returns_console.mcp_server import _catalogue, _start_conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_same_request_in_two_processes_starts_one_conversation(repo, services_settings):
    await seed(repo)
    overview = await (await _catalogue("CUST-1001")).overview()
    first, second = await asyncio.gather(
        _start_conversation(overview, "ORD-79001", "mcp-abc-key1"),
        _start_conversation(overview, "ORD-79001", "mcp-abc-key1"),
    )
    assert first == second and ownership.owns_thread("CUST-1001", first)
    assert await Conversation.objects.filter(customer_id="CUST-1001").acount() == 1
    other = await _start_conversation(overview, "ORD-79001", "mcp-abc-key2")  # another request: its own
    assert other != first and await Conversation.objects.acount() == 2


def test_a_seeded_thread_id_is_the_customers_and_unguessable_without_the_secret():
    seeded = ownership.new_thread_id("CUST-1001", seed="mcp-abc-key1")
    assert seeded == ownership.new_thread_id("CUST-1001", seed="mcp-abc-key1")
    assert ownership.owns_thread("CUST-1001", seeded) and not ownership.owns_thread("CUST-1002", seeded)
    assert ownership.new_thread_id("CUST-1001") != ownership.new_thread_id("CUST-1001")  # unseeded: random
