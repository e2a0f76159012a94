"""The admin-edited policy row maps to the ReturnPolicy the rules use; defaults match the documented ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.domain import Reason, Shipping, Tier
from customers.models import ReturnPolicySettings
from customers.policy import DEFAULT_POLICY
from customers.selectors.policy import active_policy

pytestmark = pytest.mark.django_db


def test_a_new_row_is_the_documented_default_policy():
    row = ReturnPolicySettings.objects.create()
    policy = row.to_policy()
    assert policy == DEFAULT_POLICY.__class__(**{**DEFAULT_POLICY.__dict__, "version": row.pk})


def test_without_a_row_the_defaults_apply():
    assert active_policy() == DEFAULT_POLICY


def test_the_newest_active_row_is_in_force():
    ReturnPolicySettings.objects.create(name="old", restocking_fee_percent=Decimal("15"))
    ReturnPolicySettings.objects.create(name="inactive", is_active=False, restocking_fee_percent=Decimal("50"))
    ReturnPolicySettings.objects.create(
        name="holiday",
        restocking_fee_percent=Decimal("10"),
        fee_exempt_tiers=["Platinum"],
        pickup_cost=Decimal("4.50"),
        free_shipping_reasons=[],
    )
    policy = active_policy()
    assert policy.name == "holiday"
    assert policy.restocking_fee_percent == Decimal("10")
    assert policy.fee_exempt_tiers == frozenset({Tier.PLATINUM})
    assert policy.shipping_costs_cents[Shipping.PICKUP] == 450
    assert policy.free_shipping_reasons == frozenset()


@pytest.mark.parametrize(
    ("field", "value"),
    [("restocking_fee_reasons", ["Bored"]), ("fee_exempt_tiers", ["Diamond"]), ("free_shipping_tiers", "Gold")],
)
def test_admin_validation_names_the_allowed_values(field, value):
    row = ReturnPolicySettings(**{field: value})
    with pytest.raises(ValidationError) as error:
        row.full_clean()
    assert field in error.value.message_dict
    assert "A list drawn from" in error.value.message_dict[field][0]


def test_evidence_snapshot_is_json_safe():
    import json

    evidence = DEFAULT_POLICY.as_evidence()
    assert json.loads(json.dumps(evidence))["restocking_fee_percent"] == "15"
    assert str(Reason.CHANGED_MIND) in evidence["restocking_fee_reasons"]


@pytest.mark.django_db(transaction=True)
async def test_the_async_selector_sees_an_admin_edit_at_once():
    from asgiref.sync import sync_to_async

    from customers.selectors.policy import aactive_policy

    assert (await aactive_policy()).restocking_fee_percent == Decimal("15")
    await sync_to_async(ReturnPolicySettings.objects.create)(restocking_fee_percent=Decimal("12"))
    assert (await aactive_policy()).restocking_fee_percent == Decimal("12")
