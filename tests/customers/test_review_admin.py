"""Admin for the human-in-the-loop records: the audit log cannot be edited, failed commits can be retried by
supervisors, rules are validated, and supervisors get the permissions they need."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from customers.models import AuditAction, AuditEntry, AutoApprovalRule, Proposal, ProposalState
from customers.services.staff import ensure_demo_staff
from tests.customers.seeded import proposal_row

pytestmark = pytest.mark.django_db


def _proposal(state: str = ProposalState.FAILED, key: str = "k1", code: str = "commit_failed") -> Proposal:
    message = (
        "Smart Home Hub is no longer returnable."
        if code == "not_returnable"
        else "The commit failed: ServiceResponseError."
    )
    return proposal_row(
        thread_id="thr_admin",
        submission_key=key,
        state=state,
        approval_id="proposal-x",
        failure_code=code,
        failure_message=message,
    )


def test_the_audit_log_is_append_only_everywhere(client):
    ensure_demo_staff("pw-demo-1")
    entry = AuditEntry.objects.create(actor_label="agent", action=AuditAction.APPROVE)
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    client.force_login(get_user_model().objects.get(username="admin"))
    assert client.get("/admin/customers/auditentry/").status_code == 200
    assert client.get("/admin/customers/auditentry/add/").status_code == 403
    page = client.get(f"/admin/customers/auditentry/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # view only: no Save button
    assert client.post(f"/admin/customers/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_supervisor_retries_failed_commits_from_the_admin(client, django_capture_on_commit_callbacks):
    ensure_demo_staff("pw-demo-1")
    failed, proposed = _proposal(), _proposal(ProposalState.PROPOSED, key="k2")
    hopeless = _proposal(key="k3", code="not_returnable")
    client.force_login(get_user_model().objects.get(username="supervisor"))
    assert client.get("/admin/customers/proposal/?state__exact=failed").status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/admin/customers/proposal/",
            {"action": "retry_failed_commits", "_selected_action": [failed.pk, proposed.pk, hopeless.pk]},
            follow=True,
        )
    assert response.status_code == 200 and b"Sent 1 commit(s) again." in response.content
    assert b"Retrying cannot help" in response.content  # no longer returnable: closed, never retried
    hopeless.refresh_from_db()
    assert hopeless.state == ProposalState.FAILED
    failed.refresh_from_db()
    assert failed.state == ProposalState.APPROVED and failed.version == 2
    assert AuditEntry.objects.get(proposal=failed).action == AuditAction.RETRY
    assert len(callbacks) >= 1  # the commit is enqueued once the retry is stored


def test_agents_have_no_retry_and_no_admin_records(client):
    ensure_demo_staff("pw-demo-1")
    client.force_login(get_user_model().objects.get(username="agent"))
    assert client.get("/admin/customers/proposal/").status_code == 403


def test_rules_accept_only_known_tiers_reasons_and_resolutions():
    rule = AutoApprovalRule(name="x", max_amount="50.00", tiers=["Diamond"], reasons=["Bored"], resolutions=["Cash"])
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert set(refused.value.message_dict) == {"tiers", "reasons", "resolutions"}
    AutoApprovalRule(name="ok", max_amount="50.00", tiers=["Gold"], reasons=["Damaged/Defective"]).full_clean()
