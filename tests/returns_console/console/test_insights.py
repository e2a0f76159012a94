"""Insights for supervisors: tables over a period from proposals, the audit log, conversations, ratings and
feedback, as JSON and as CSV; a computed list of what to look at; supervisors only; bad periods refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from chat.engine.flow import FlowStep
from chat.models import AssistantTurn, Attention, Conversation, ConversationRating, Feedback
from customers import clock
from customers.models import AuditAction, AuditEntry, AutoApprovalRule, Proposal, ProposalLine, ProposalState
from tests.customers.seeded import proposal_row

pytestmark = pytest.mark.django_db


def _at(days_ago: int, hours: int = 12):  # type: ignore[no-untyped-def]
    day = clock.store_today() - timedelta(days=days_ago)
    from datetime import datetime, time

    return datetime.combine(day, time(hours), tzinfo=clock.store_zone())


def _filed(key: str, days_ago: int, **fields: object) -> Proposal:
    proposal = proposal_row(submission_key=key, thread_id=f"thr_{key}", **fields)
    decided_at = fields.get("decided_at")
    waited = (decided_at - _at(days_ago)).total_seconds() if decided_at else None  # as services.decisions keeps it
    Proposal.objects.filter(pk=proposal.pk).update(created_at=_at(days_ago), decision_seconds=waited)
    ProposalLine.objects.filter(proposal=proposal).update(filed_at=_at(days_ago))  # filed then, lines with it
    proposal.refresh_from_db()
    return proposal


@pytest.fixture
def history() -> dict[str, object]:
    user = get_user_model()
    agent = user.objects.create_user("agent", password="x", is_staff=True, first_name="Ben")
    rule = AutoApprovalRule.objects.create(name="small damaged", enabled=True, max_amount=100)
    # This period: four hubs back, three of them damaged; before it, four hubs and none damaged.
    approved = _filed("a", 2, state=ProposalState.COMMITTED, decided_by=agent, decided_at=_at(2, 13))
    _filed("b", 3, state=ProposalState.APPROVED, decided_by_rule=rule, decided_at=_at(3, 12) + timedelta(seconds=5))
    _filed("c", 4, state=ProposalState.PROPOSED)
    rejected = _filed(
        "d",
        5,
        state=ProposalState.REJECTED,
        reason="Changed My Mind",
        customer_message='=HYPERLINK("http://evil")',
        decided_by=agent,
        decided_at=_at(5, 14),
    )
    for index in range(4):
        _filed(f"old{index}", 15 + index, reason="Changed My Mind", state=ProposalState.PROPOSED)
    committed = AuditEntry.objects.create(
        action=AuditAction.COMMITTED, actor_label="worker", proposal=approved, thread_id=approved.thread_id
    )
    AuditEntry.objects.filter(pk=committed.pk).update(created_at=_at(2, 13) + timedelta(seconds=30))
    Proposal.objects.filter(pk=approved.pk).update(commit_seconds=3630.0)  # as services.commit_progress keeps it
    for action, proposal in ((AuditAction.APPROVE, approved), (AuditAction.REJECT, rejected)):
        entry = AuditEntry.objects.create(action=action, actor=agent, actor_label="Ben", proposal=proposal)
        AuditEntry.objects.filter(pk=entry.pk).update(created_at=_at(2))
    # Conversations: one filed a return, one asked for a person, one gave up.
    for thread, attention in (("thr_a", ""), ("thr_person", Attention.ASKED_FOR_PERSON), ("thr_quiet", "")):
        Conversation.objects.create(thread_id=thread, customer_id="CUST-1001", attention=attention)
    Conversation.objects.filter(thread_id__in=["thr_a", "thr_person", "thr_quiet"]).update(created_at=_at(2))
    # Where each stopped: the step of its last turn (the person was asked for a reason; the quiet one left at
    # the summary, having chosen items before).
    for thread, step in (
        ("thr_a", FlowStep.SUMMARY),
        ("thr_a", FlowStep.FILED),
        ("thr_person", FlowStep.REASON),
        ("thr_quiet", FlowStep.ITEMS),
        ("thr_quiet", FlowStep.SUMMARY),
    ):
        AssistantTurn.objects.create(thread_id=thread, customer_id="CUST-1001", engine="guided", step=step)
        Conversation.objects.filter(thread_id=thread).update(last_step=step)  # as chat.turns keeps it
    Conversation.objects.filter(thread_id="thr_a").update(return_filed_at=approved.created_at)  # chat.receivers
    ConversationRating.objects.create(thread_id="thr_a", customer_id="CUST-1001", rating=4, engine="guided")
    ConversationRating.objects.create(thread_id="thr_person", customer_id="CUST-1001", rating=2, engine="guided")
    Feedback.objects.create(
        customer_id="CUST-1001", thread_id="thr_a", item_ids=["m"], kind="positive", engine="guided"
    )
    return {"agent": agent}


def _supervisor() -> Client:
    boss = get_user_model().objects.create_superuser("boss", password="x")
    client = Client()
    client.force_login(boss)
    return client


def _period() -> dict[str, str]:
    today = clock.store_today()
    return {"from": (today - timedelta(days=9)).isoformat(), "to": today.isoformat()}


def test_every_table_over_the_period_and_what_to_look_at(history):
    body = _supervisor().get("/console/api/insights", _period()).json()
    tables = body["tables"]
    reasons = {row["reason"]: row for row in tables["by_reason"]["rows"]}
    assert reasons["Damaged/Defective"]["proposals"] == 3 and reasons["Damaged/Defective"]["approved"] == 2
    assert reasons["Changed My Mind"] == {**reasons["Changed My Mind"], "proposals": 1, "rejected": 1}
    hub = tables["by_product"]["rows"][0]
    assert (hub["sku"], hub["proposals"], hub["damaged"], hub["damaged_share"]) == ("HUB-SMART-2", 4, 3, 75.0)
    credit = tables["resolutions"]["rows"][0]
    assert credit["resolution"] == "Store Credit" and credit["approved"] == 2 and credit["store_credit_cents"] > 0
    times = {row["measure"]: row for row in tables["decision_times"]["rows"]}
    assert times["filed to decision"]["count"] == 3 and times["filed to committed"]["p50_seconds"] == 3630.0
    assert times["decided by a rule"]["count"] == 1 and times["decided by a person"]["count"] == 2
    assert tables["agents"]["rows"] == [
        {"agent": "Ben", "approvals": 1, "edits": 0, "overrides": 0, "rejections": 1, "escalations": 0}
    ]
    outcomes = {row["outcome"]: row["conversations"] for row in tables["outcomes"]["rows"]}
    assert outcomes == {
        "started": 3,
        "return filed": 1,
        "handed to a person": 1,
        "resolved by staff without a return": 0,
        "ended without a return": 1,
    }
    assert tables["stalls"]["rows"] == [
        {"step": "giving a reason", "conversations": 1, "handed_to_person": 1},
        {"step": "at the summary, not confirmed", "conversations": 1, "handed_to_person": 0},
    ]
    assert tables["engines"]["rows"] == [
        {"engine": "guided", "ratings": 2, "average_rating": 3.0, "thumbs_up": 1, "thumbs_down": 0}
    ]
    assert body["highlights"] == ["Smart Home Hub: 75% damaged in this period, up from 0%"]


def test_each_table_exports_as_csv_and_text_is_never_a_formula(history):
    response = _supervisor().get("/console/api/insights/rejection_reasons.csv", _period())
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and "rejection_reasons" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [["message", "rejections"], ['\'=HYPERLINK("http://evil")', "1"]]


def test_insights_are_for_supervisors_and_bad_periods_are_refused(history):
    agent = Client()
    agent.force_login(history["agent"])
    assert agent.get("/console/api/insights").status_code == 403
    assert Client().get("/console/api/insights").status_code == 401
    boss = _supervisor()
    for query in ({"from": "yesterday"}, {"from": "2026-02-30"}, {"from": "2026-05-02", "to": "2026-05-01"}):
        response = boss.get("/console/api/insights", query)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", query
    assert boss.get("/console/api/insights", {"from": "2024-01-01", "to": "2026-01-01"}).status_code == 400
    assert boss.get("/console/api/insights/nothing.csv").status_code == 404
    assert boss.get("/console/api/insights").status_code == 200  # the last 30 days by default


def test_every_bar_opens_the_proposals_or_conversations_behind_it(history):
    boss = _supervisor()
    period = _period()

    def behind(table: str, key: str) -> list[dict]:
        response = boss.get(f"/console/api/insights/{table}/drill", {**period, "key": key})
        assert response.status_code == 200, response.content
        return response.json()["items"]

    damaged = behind("by_reason", "Damaged/Defective")
    assert sorted(item["thread_id"] for item in damaged) == ["thr_a", "thr_b", "thr_c"]
    assert all(item["proposal"] and item["customer"] == "Robert Johnson" for item in damaged)
    assert len(behind("by_product", "HUB-SMART-2")) == 4
    assert [i["thread_id"] for i in behind("rejection_reasons", '=HYPERLINK("http://evil")')] == ["thr_d"]
    assert [i["thread_id"] for i in behind("decision_times", "decided by a rule")] == ["thr_b"]
    assert sorted(i["thread_id"] for i in behind("agents", "Ben")) == ["thr_a", "thr_d"]
    assert [i["thread_id"] for i in behind("outcomes", "ended without a return")] == ["thr_quiet"]
    assert [i["thread_id"] for i in behind("stalls", "at the summary, not confirmed")] == ["thr_quiet"]
    assert behind("stalls", "choosing what to return") == []  # thr_quiet moved on from there
    assert sorted(i["thread_id"] for i in behind("engines", "guided")) == ["thr_a", "thr_person"]
    assert behind("by_reason", "Arrived Too Late") == []
    assert boss.get("/console/api/insights/by_reason/drill", period).status_code == 400  # no key
    assert boss.get("/console/api/insights/nothing/drill", {"key": "x"}).status_code == 404


def test_the_insights_page_is_for_supervisors(history):
    agent = Client()
    agent.force_login(history["agent"])
    assert agent.get("/console/insights/").status_code == 403
    page = _supervisor().get("/console/insights/")
    assert page.status_code == 200 and b"vendor/chartjs/chart.umd.js" in page.content
