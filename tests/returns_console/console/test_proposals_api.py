"""The console's proposal API: staff only, versioned decisions, approval limits, edits re-checked by the rules,
rejections with a message, every action audited, and the commit enqueued once the decision is stored."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import redis
from asgiref.sync import sync_to_async
from celery import current_app
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from customers.domain import Reason, Resolution, Shipping
from customers.models import AuditAction, AuditEntry, AutoApprovalRule, Proposal, ProposalLine
from tests.customers.seeded import file_seed_proposal
from tests.returns_console.console.conftest import CSRF, post_json, staff_client

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(redis_url: str, queue: str) -> list[dict]:
    """The Celery messages waiting on ``queue``, oldest first (Redis lists push left)."""
    return [json.loads(raw) for raw in reversed(redis.Redis.from_url(redis_url).lrange(queue, 0, -1))]


def _queued(redis_url: str, queue: str) -> list[tuple[str, list]]:
    """(task name, args) of the Celery messages waiting on ``queue``, oldest first."""
    return [
        (message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0])
        for message in _messages(redis_url, queue)
    ]


async def test_only_signed_in_staff_may_use_the_api(seeded, client):
    proposal = await file_seed_proposal(seeded)
    anonymous = await AsyncClient().get("/console/api/proposals")
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_signed_in"
    customer = await get_user_model().objects.acreate_user("shopper", password="pw-shopper-1")
    shopper = AsyncClient()
    await shopper.aforce_login(customer)
    refused = await shopper.post(f"/console/api/proposals/{proposal.pk}/approve", data={"version": 1})
    assert refused.status_code in (403,)
    assert (await shopper.get("/console/api/proposals")).json()["error"] == "not_staff"


async def test_proposals_are_listed_by_state_with_what_staff_need(seeded):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    listed = (await agent.get("/console/api/proposals?state=proposed")).json()["proposals"]
    assert [row["id"] for row in listed] == [proposal.pk]
    row = listed[0]
    assert row["version"] == 1 and row["state"] == "proposed" and row["return_id"] is None
    assert row["lines"] == [{"sku": "HUB-SMART-2", "name": "Smart Home Hub", "quantity": 1, "unit_price_cents": 8999}]
    assert (row["reason"], row["resolution"], row["shipping"]) == (
        "Damaged/Defective",
        "Store Credit",
        "Prepaid Shipping Label",
    )
    assert row["amounts"]["total"] == "98.99" and row["amounts_cents"]["bonus"] == 900
    assert row["evidence"]["eligibility"][0]["eligible"] is True and row["evidence"]["policy"]
    assert (await agent.get("/console/api/proposals?state=committed")).json()["proposals"] == []
    bad = await agent.get("/console/api/proposals?state=nonsense")
    assert bad.status_code == 400 and "state must be among" in bad.json()["message"]


async def test_approving_enqueues_one_commit_after_the_decision_is_stored(seeded, redis_url, inprocess_celery_queue):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    before = _queued(redis_url, inprocess_celery_queue)
    status, body = await post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1})
    assert status == 200, body
    assert body["state"] == "approved" and body["version"] == 2 and body["decided_by"] == "agent"
    assert body["approval_id"] == f"proposal-{proposal.pk}"
    added = _queued(redis_url, inprocess_celery_queue)[len(before) :]
    # One commit, carrying the approval; and the customer is told (a task of the chat app).
    assert sorted(name for name, _ in added) == ["chat.tell_customer", "customers.commit_return"]
    payload = next(args for name, args in added if name == "customers.commit_return")[0]
    assert payload["approval_id"] == f"proposal-{proposal.pk}" and payload["lines"] == [
        {"sku": "HUB-SMART-2", "quantity": 1}
    ]
    # Its outcome is read from the proposal: no task result is asked for, stored, or waited on.
    for message in _messages(redis_url, inprocess_celery_queue)[len(before) :]:
        assert message["headers"]["ignore_result"] is True, message["headers"]["task"]
        channel = f"celery-task-meta-{message['headers']['id']}"
        assert dict(current_app.backend.client.pubsub_numsub(channel))[channel.encode()] == 0
    entry = await AuditEntry.objects.aget(proposal_id=proposal.pk)
    assert (entry.action, entry.actor_label, entry.before["state"], entry.after["state"]) == (
        AuditAction.APPROVE,
        "agent",
        "proposed",
        "approved",
    )


async def test_two_agents_approving_at_once_one_wins_the_other_learns_who(seeded):
    proposal = await file_seed_proposal(seeded)
    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    results = await asyncio.gather(
        post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1}),
        post_json(supervisor, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1}),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409]
    winner = next(body for status, body in results if status == 200)["decided_by"]
    loser = next(body for status, body in results if status == 409)
    assert loser["error"] == "stale_version" and loser["message"].startswith(f"{winner} already acted")
    assert loser["proposal"]["state"] == "approved"
    assert await AuditEntry.objects.filter(proposal_id=proposal.pk).acount() == 1


async def test_a_stale_version_is_refused_with_409(seeded):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    status, body = await post_json(
        agent, f"/console/api/proposals/{proposal.pk}/reject", {"version": 1, "message": "No"}
    )
    assert status == 200
    status, body = await post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1})
    assert status == 409 and "rejected" in body["message"] and "agent already acted" in body["message"]


async def test_above_the_agents_limit_a_supervisor_must_approve(seeded):
    proposal = await file_seed_proposal(seeded, sku="DSP-UHD-55", reason=Reason.DAMAGED)
    agent, supervisor = await staff_client("agent"), await staff_client("supervisor")
    status, body = await post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1})
    assert status == 403 and body["error"] == "over_approval_limit"
    assert "above your approval limit of 200.00" in body["message"] and "supervisor" in body["message"]
    assert (await Proposal.objects.aget(pk=proposal.pk)).state == "proposed"
    status, body = await post_json(supervisor, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1})
    assert status == 200 and body["decided_by"] == "supervisor"


async def test_an_edit_is_re_quoted_by_the_rules_and_audited_with_before_and_after(seeded):
    proposal = await file_seed_proposal(seeded, sku="HUB-SMART-2")
    agent = await staff_client("agent")
    status, body = await post_json(
        agent,
        f"/console/api/proposals/{proposal.pk}/edit",
        {"version": 1, "quantities": {"HUB-SMART-2": 2}, "shipping": "Customer Drop-off"},
    )
    # More back than the customer confirmed, same resolution: approved at once (less back, or another
    # resolution, is offered to the customer first: test_edit_preview.py).
    assert status == 200, body
    assert body["lines"][0]["quantity"] == 2 and body["resolution"] == "Store Credit" and body["state"] != "proposed"
    assert body["amounts"]["store_credit"] == "197.98" and body["amounts"]["refund"] == "0.00"
    entry = await AuditEntry.objects.aget(proposal_id=proposal.pk)
    assert entry.action == AuditAction.EDIT
    assert entry.before["shipping"] != entry.after["shipping"] == "Customer Drop-off"
    assert entry.before["lines"][0]["quantity"] == 1 and entry.after["lines"][0]["quantity"] == 2
    # The money columns insights sum follow the new quote.
    edited = await Proposal.objects.aget(pk=proposal.pk)
    assert (edited.store_credit_cents, edited.refund_cents) == (19798, 0)
    assert edited.store_credit_cents == edited.quote["store_credit_cents"] and edited.bonus_cents > 0
    rows = [(row.sku, row.quantity, row.filed_at) async for row in ProposalLine.objects.filter(proposal=edited)]
    assert rows == [("HUB-SMART-2", 2, edited.created_at)]  # the line rows insights count follow the lines


async def test_an_edit_the_rules_refuse_is_refused_with_the_reason(seeded):
    proposal = await file_seed_proposal(seeded, sku="HUB-SMART-2")
    agent = await staff_client("agent")
    status, body = await post_json(
        agent, f"/console/api/proposals/{proposal.pk}/edit", {"version": 1, "quantities": {"HUB-SMART-2": 3}}
    )
    assert status == 422 and "2" in body["message"]  # the rules refuse: only 2 were ordered
    status, body = await post_json(
        agent, f"/console/api/proposals/{proposal.pk}/edit", {"version": 1, "quantities": {"TV-OLED-65": 1}}
    )
    assert status == 400 and "not part of this proposal" in body["message"]
    assert (await Proposal.objects.aget(pk=proposal.pk)).version == 1


async def test_an_amount_override_needs_a_written_reason(seeded):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    url = f"/console/api/proposals/{proposal.pk}/edit"
    status, body = await post_json(agent, url, {"version": 1, "amount_override_cents": 5000})
    assert status == 400 and "written reason" in body["message"]
    status, body = await post_json(
        agent, url, {"version": 1, "amount_override_cents": 5000, "reason_for_change": "Goodwill: box only dented"}
    )
    assert status == 200, body
    # Less back than the customer confirmed: offered to them first, approved only when they accept.
    assert body["state"] == "proposed" and body["offer"]["quote"]["store_credit_cents"] == 5000
    assert body["offer"]["quote"]["override"]["rules_total_cents"] == 9899
    entry = await AuditEntry.objects.aget(proposal_id=proposal.pk)
    assert entry.action == AuditAction.OFFER and entry.note == "Goodwill: box only dented"
    assert entry.after["offer"]["quote"]["store_credit_cents"] == 5000


@pytest.mark.parametrize(
    ("who", "cents", "status", "code"),
    [
        ("agent", 3500, 200, None),  # below the rules' 38.24: the agent may (offered to the customer: less back)
        ("agent", 4000, 403, "supervisors_only"),  # above the rules' figure
        ("supervisor", 4000, 200, None),
        ("supervisor", 4500, 400, "invalid_request"),  # more than the 44.99 paid
        ("supervisor", 10**20, 400, "invalid_request"),
        ("supervisor", 2**53 + 1, 400, "invalid_request"),
    ],
)
async def test_amount_overrides_are_bounded_by_what_was_paid_and_by_who_may(seeded, who, cents, status, code):
    """James Smith (Standard) returns a 44.99 charger, changed his mind: the rules refund 38.24 (15% fee)."""
    proposal = await file_seed_proposal(
        seeded,
        sku="CHG-GAN-65W",
        customer_id="CUST-1003",
        order_id="ORD-79003",
        reason=Reason.CHANGED_MIND,
        resolution=Resolution.FULL_REFUND,
        shipping=Shipping.DROP_OFF,
    )
    assert proposal.quote["refund_cents"] == 3824
    answer, body = await post_json(
        await staff_client(who),
        f"/console/api/proposals/{proposal.pk}/edit",
        {"version": 1, "amount_override_cents": cents, "reason_for_change": "Goodwill for a late delivery"},
    )
    assert answer == status, body
    stored = await Proposal.objects.aget(pk=proposal.pk)
    if code:
        assert body["error"] == code and stored.state == "proposed" and stored.offer is None
    elif cents < 3824:  # less back than confirmed: waits for the customer's agreement
        assert stored.state == "proposed" and stored.offer["quote"]["refund_cents"] == cents
    else:
        assert stored.state == "approved" and stored.quote["refund_cents"] == cents


async def test_rejecting_needs_a_message_for_the_customer(seeded):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    url = f"/console/api/proposals/{proposal.pk}/reject"
    status, body = await post_json(agent, url, {"version": 1, "message": "   "})
    assert status == 400 and "message" in body["message"]
    status, body = await post_json(agent, url, {"version": 1, "message": "Photos show water damage: not covered."})
    assert status == 200 and body["state"] == "rejected"
    assert body["customer_message"] == "Photos show water damage: not covered."


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b"{}", b'{"version": "1"}', b'{"version": true}', b'{"version": 0}', b'{"version": null}'],
)
async def test_malformed_decisions_get_400_with_a_reason(seeded, body):
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    response = await agent.post(
        f"/console/api/proposals/{proposal.pk}/approve",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": CSRF},
    )
    assert response.status_code == 400 and response.json()["message"]


async def test_unknown_proposals_wrong_methods_and_missing_csrf(seeded):
    agent = await staff_client("agent")
    status, body = await post_json(agent, "/console/api/proposals/999999/approve", {"version": 1})
    assert status == 404 and body["error"] == "not_found"
    assert (await agent.get("/console/api/proposals/999999/approve")).status_code == 405
    assert (await agent.get("/console/api/proposals/999999")).status_code == 404
    assert (await agent.get("/console/api/returns/RET-NOPE")).status_code == 404
    no_csrf = AsyncClient(enforce_csrf_checks=True)
    await no_csrf.aforce_login(await get_user_model().objects.aget(username="agent"))
    response = await no_csrf.post("/console/api/proposals/1/approve", data="{}", content_type="application/json")
    assert response.status_code == 403


async def test_an_enabled_rule_approves_what_it_covers_and_is_recorded(seeded):
    rule = await AutoApprovalRule.objects.acreate(
        name="Small damaged items", enabled=True, max_amount="100.00", reasons=["Damaged/Defective"], tiers=[]
    )
    covered = await file_seed_proposal(seeded)
    assert covered.state == "approved" and covered.decided_by_rule_id == rule.pk and covered.decided_by_id is None
    entry = await AuditEntry.objects.aget(proposal_id=covered.pk)
    assert entry.action == AuditAction.AUTO_APPROVE and entry.rule_id == rule.pk
    assert entry.actor_label == "rule: Small damaged items"
    too_big = await file_seed_proposal(seeded, sku="DSP-UHD-55")
    assert too_big.state == "proposed"
    other_reason = await file_seed_proposal(
        seeded, reason=Reason.CHANGED_MIND, resolution=Resolution.FULL_REFUND, shipping=Shipping.DROP_OFF
    )
    assert other_reason.state == "proposed"


async def test_rules_are_off_by_default(seeded):
    await AutoApprovalRule.objects.acreate(name="Anything", max_amount="10000.00")
    assert (await file_seed_proposal(seeded)).state == "proposed"


async def test_a_commit_that_cannot_be_queued_lands_in_the_supervisors_queue(seeded, monkeypatch):
    """Fault injection: the broker refuses the message (kombu's OperationalError, as when Redis is away)."""
    from kombu.exceptions import OperationalError

    from returns_console.celery import app

    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    proposal = await file_seed_proposal(seeded)
    agent = await staff_client("agent")
    status, _ = await post_json(agent, f"/console/api/proposals/{proposal.pk}/approve", {"version": 1})
    assert status == 200  # the decision stands
    stored = await Proposal.objects.aget(pk=proposal.pk)
    assert stored.state == "failed" and stored.failure_code == "enqueue_failed"
    actions = [e.action async for e in AuditEntry.objects.filter(proposal=stored).order_by("id")]
    assert actions == [AuditAction.APPROVE, AuditAction.COMMIT_FAILED]


async def test_approving_units_another_proposal_already_returned_is_refused_with_the_reason(
    seeded, redis_url, inprocess_celery_queue
):
    from customers.services import commit_progress
    from customers.services.commit import commit_return

    first, second = await file_seed_proposal(seeded, quantity=2), await file_seed_proposal(seeded, quantity=1)
    supervisor = await staff_client("supervisor")
    status, body = await post_json(supervisor, f"/console/api/proposals/{first.pk}/approve", {"version": 1})
    assert status == 200 and body["overlaps"] == [second.pk]
    approved = await Proposal.objects.select_related("decided_by").aget(pk=first.pk)
    result = await commit_return(seeded, commit_progress.approved_return(approved))
    await sync_to_async(commit_progress.mark_committed)(approved.approval_id, result.record.return_id)
    queued = redis.Redis.from_url(redis_url).llen(inprocess_celery_queue)

    status, body = await post_json(supervisor, f"/console/api/proposals/{second.pk}/approve", {"version": 1})
    assert status == 422 and body["error"] == "not_returnable"
    assert f"(proposal #{first.pk} already returned them)" in body["message"]
    assert (await Proposal.objects.aget(pk=second.pk)).state == "proposed"
    assert redis.Redis.from_url(redis_url).llen(inprocess_celery_queue) == queued  # nothing enqueued
