"""Django admin: "What if…" replays the period's proposals with the draft policy in the form, beside what
happened; nothing is saved until the admin saves the draft."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.forms.models import model_to_dict

from customers import clock
from customers.models import Proposal, ProposalState, ReturnPolicySettings
from tests.customers.seeded import proposal_row, seed

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/admin/customers/returnpolicysettings/whatif/"


def _form(**changes: object) -> dict[str, object]:
    data = model_to_dict(ReturnPolicySettings(), exclude=["id", "updated_by"])
    for key, value in data.items():
        if isinstance(value, (list, dict)):
            data[key] = json.dumps(value)
    data["is_active"] = "on"
    today = clock.store_today()
    data.update(whatif_from=(today - timedelta(days=30)).isoformat(), whatif_to=today.isoformat(), _whatif="1")
    data.update(changes)
    return data


@pytest.fixture
async def filed(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)  # the catalog: each product's own window


def test_the_change_form_offers_what_if(admin_client, filed):
    page = admin_client.get("/admin/customers/returnpolicysettings/add/").content.decode()
    assert "What if…" in page and 'formaction="/admin/customers/returnpolicysettings/whatif/"' in page


def test_a_draft_bonus_is_replayed_beside_what_happened_and_nothing_is_saved(admin_client, filed):
    proposal = proposal_row(state=ProposalState.COMMITTED)
    policies = ReturnPolicySettings.objects.count()
    response = admin_client.post(URL, _form(store_credit_bonus_percent="20"))
    page = response.content.decode()
    assert response.status_code == 200, page
    assert "Nothing has been saved" in page and "store_credit_bonus_percent" in page
    credit = proposal.quote["store_credit_cents"]
    assert f"${credit // 100}.{credit % 100:02d}" in page  # what happened
    assert "Robert Johnson (CUST-1001)" in page and f"/admin/customers/proposal/{proposal.pk}/change/" in page
    assert ReturnPolicySettings.objects.count() == policies
    assert Proposal.objects.get().quote == proposal.quote
    # The page can save the draft as it stands.
    save = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    assert save == "/admin/customers/returnpolicysettings/add/" and hidden["store_credit_bonus_percent"] == "20"


def test_a_draft_with_errors_or_a_bad_period_is_refused_clearly(admin_client, filed):
    response = admin_client.post(URL, _form(restocking_fee_percent="500"))
    assert response.status_code == 400 and "The draft has errors" in response.content.decode()
    response = admin_client.post(URL, _form(whatif_from="yesterday"))
    assert response.status_code == 400 and "YYYY-MM-DD" in response.content.decode()
    assert admin_client.get(URL).status_code == 405
