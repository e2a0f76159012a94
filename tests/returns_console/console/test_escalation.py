"""Asking a supervisor: a proposal above the agent's limit is escalated (not a dead Approve button), supervisors
see it in their own filter and live, and the supervisor decides."""

from __future__ import annotations

import pytest

from customers.models import AuditAction, AuditEntry, Proposal
from tests.chat.conversation import Conversation as Chat
from tests.returns_console.console.conftest import filed_by_chat, post_json, staff_client
from tests.returns_console.console.test_console_socket import _events

pytestmark = pytest.mark.django_db(transaction=True)


async def _display_refund() -> tuple[Chat, Proposal]:
    """$299.99 to refund: above the demo agent's $200 limit."""
    return await filed_by_chat(
        "I want to return the smart display from ORD-79001",
        "it arrived cracked",
        "full refund",
        "prepaid label",
        "confirm",
    )


async def test_an_agent_over_the_limit_asks_a_supervisor_who_sees_it_and_decides(seeded):
    from tests.returns_console.console.test_console_socket import _socket

    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    chat, proposal = await _display_refund()
    assert proposal.total_cents > 200_00
    assert (await post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": proposal.version}))[
        0
    ] == 403

    dashboard = _socket(supervisor.cookies["sessionid"].value)
    assert (await dashboard.connect())[0]
    status, body = await post_json(
        agent,
        f"/console/api/proposals/{proposal.pk}/escalate",
        {"version": proposal.version, "note": "Cracked on arrival, photos in chat"},
    )
    assert status == 200 and body["state"] == "proposed" and body["version"] == proposal.version + 1
    assert body["escalation"]["by"] == "agent" and body["escalation"]["note"] == "Cracked on arrival, photos in chat"

    told = [e for e in await _events(dashboard, 1) if e["kind"] == "proposal"]
    while not told or told[-1]["action"] != "escalated":  # the supervisor's dashboard hears it live
        told = [e for e in await _events(dashboard, 1) if e["kind"] == "proposal"]
    assert told[-1]["proposal"]["escalation"]["by"] == "agent" and told[-1]["row"]["escalated"] == 1
    await dashboard.disconnect()

    rows = (await supervisor.get("/console/api/conversations?filter=escalated")).json()["conversations"]
    assert [row["thread_id"] for row in rows] == [chat.thread_id]
    status, body = await post_json(
        supervisor, f"/console/api/proposals/{proposal.pk}/approve", {"version": body["version"]}
    )
    assert status == 200 and body["state"] in ("approved", "committing", "committed")
    rows = (await supervisor.get("/console/api/conversations?filter=escalated")).json()["conversations"]
    assert rows == []  # decided: no longer waiting on a supervisor
    entry = await AuditEntry.objects.aget(proposal_id=proposal.pk, action=AuditAction.ESCALATE)
    assert (entry.actor_label, entry.note) == ("agent", "Cracked on arrival, photos in chat")


async def test_escalating_twice_or_on_a_stale_version_is_refused(seeded):
    agent = await staff_client("agent")
    _, proposal = await _display_refund()
    url = f"/console/api/proposals/{proposal.pk}/escalate"
    assert (await post_json(agent, url, {"version": proposal.version}))[0] == 200
    status, body = await post_json(agent, url, {"version": proposal.version + 1})
    assert status == 400 and "already asked a supervisor" in body["message"]
    assert (await post_json(agent, url, {"version": proposal.version}))[0] == 409  # stale
    for bad in ({}, {"version": "x"}, {"version": proposal.version + 1, "note": 3}, {"version": 1, "note": "x" * 2001}):
        assert (await post_json(agent, url, bad))[0] in (400, 409), bad
    assert (await post_json(agent, "/console/api/proposals/999999/escalate", {"version": 1}))[0] == 404
