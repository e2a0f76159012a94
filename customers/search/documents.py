"""The store's return policies and catalog facts, as searchable documents.

Figures are generated from the policy in force and the catalog, so what the assistant quotes from search
can never disagree with what the rules compute.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from customers.demo import PRODUCTS
from customers.domain import Reason, Shipping
from customers.money import dollars
from customers.policy import DEFAULT_POLICY, ReturnPolicy
from customers.search.base import PolicyDocument

_money = dollars


def _percent(value: Decimal) -> str:
    """20.00 -> "20%", 12.50 -> "12.5%": as a person writes a rate."""
    return f"{value.normalize():f}%"


# A reason as the end of "because you ..."
_WHY = {
    Reason.CHANGED_MIND: gettext_noop("changed your mind"),
    Reason.BETTER_PRICE: gettext_noop("found a better price"),
}
TIERS = (gettext_noop("Standard"), gettext_noop("Silver"), gettext_noop("Gold"), gettext_noop("Platinum"))
# The catalog's categories, for translation
CATEGORIES = (
    gettext_noop("Displays"),
    gettext_noop("Smart Home"),
    gettext_noop("Accessories"),
    gettext_noop("TVs"),
    gettext_noop("Audio"),
    gettext_noop("Computing"),
    gettext_noop("Networking"),
    gettext_noop("Wearables"),
    gettext_noop("Home"),
)


def _names(values: object) -> str:
    return ", ".join(sorted(_(str(value)) for value in values))  # type: ignore[attr-defined]


def policy_documents(policy: ReturnPolicy = DEFAULT_POLICY) -> list[PolicyDocument]:
    windows: dict[int, list[str]] = defaultdict(list)
    for product in PRODUCTS:
        if not product.final_sale and product.category not in windows[product.return_window_days]:
            windows[product.return_window_days].append(product.category)
    window_text = "; ".join(
        _("%(days)s days for %(categories)s") % {"days": days, "categories": ", ".join(sorted(_(c) for c in cats))}
        for days, cats in sorted(windows.items())
    )
    costs = policy.shipping_costs_cents
    values = {
        "windows": window_text,
        "default_days": policy.default_return_window_days,
        "fee": _percent(policy.restocking_fee_percent),
        "fee_reasons": _(" or ").join(sorted(_(_WHY.get(r, str(r).lower())) for r in policy.restocking_fee_reasons)),
        "exempt": _names(policy.fee_exempt_tiers),
        "bonus": _percent(policy.store_credit_bonus_percent),
        "refund_days": policy.refund_business_days,
        "keep": _percent(policy.keep_discount_percent),
        "label": _money(costs[Shipping.PREPAID_LABEL]),
        "pickup": _money(costs[Shipping.PICKUP]),
        "drop_off": _money(costs[Shipping.DROP_OFF]),
        "store": _money(costs[Shipping.RETURN_TO_STORE]),
        "free_reasons": _names(policy.free_shipping_reasons),
        "free_tiers": _names(policy.free_shipping_tiers),
    }
    return [
        PolicyDocument(doc_id, _(title), category, _(body) % values) for doc_id, title, category, body in POLICY_TEXTS
    ]


# (id, title, category, text with %(name)s for the policy's figures): marked for translation, filled in per policy.
POLICY_TEXTS = (
    (
        "return-window",
        gettext_noop("Return windows"),
        "Eligibility",
        gettext_noop(
            "Our return policy in short: you can return most items within a window counted from the day they were "
            "delivered, last day included: %(windows)s. Items without a set window have %(default_days)s days. "
            "After the window closes an item can no longer be returned. How long do I have? Check the days left "
            "shown beside each item."
        ),
    ),
    (
        "opened-items",
        gettext_noop("Opened or used items"),
        "Eligibility",
        gettext_noop(
            "Can opened items be returned? Yes: an item you have opened or tried can be returned within its window, "
            "ideally in its original packaging with all its accessories. Only items sold as final sale, clearance "
            "or open-box cannot. A change of mind carries the %(fee)s restocking fee unless you are a %(exempt)s "
            "member."
        ),
    ),
    (
        "final-sale",
        gettext_noop("Final sale and clearance items"),
        "Eligibility",
        gettext_noop("Items sold as final sale, clearance or open-box can never be returned or exchanged."),
    ),
    (
        "restocking-fee",
        gettext_noop("Restocking fee"),
        "Fees",
        gettext_noop(
            "A %(fee)s restocking fee applies when you return an item because you %(fee_reasons)s. %(exempt)s "
            "members never pay the restocking fee. Items that arrived damaged, defective, wrong or not as described "
            "carry no fee."
        ),
    ),
    (
        "store-credit",
        gettext_noop("Store credit bonus"),
        "Resolutions",
        gettext_noop(
            "Choose store credit instead of a refund and get a %(bonus)s bonus on top. Store credit is added to your "
            "account as soon as the return is approved and never expires."
        ),
    ),
    (
        "refunds",
        gettext_noop("Refunds"),
        "Resolutions",
        gettext_noop(
            "How long does a refund take? Refunds go back to your original payment method: we send the refund within "
            "%(refund_days)s business days of your return reaching us, and your bank may take another 3 to 5 "
            "business days to show the money. Store credit is added as soon as the return is approved."
        ),
    ),
    (
        "exchanges",
        gettext_noop("Exchanges"),
        "Resolutions",
        gettext_noop(
            "Exchange an item for the same product (another colour or size where available). Exchanges carry no "
            "restocking fee and no return shipping cost."
        ),
    ),
    (
        "keep-with-discount",
        gettext_noop("Keep it with a discount"),
        "Resolutions",
        gettext_noop(
            "For some issues you can keep the item and get %(keep)s of its price back instead of sending it back."
        ),
    ),
    (
        "return-shipping",
        gettext_noop("Return shipping options and costs"),
        "Shipping",
        gettext_noop(
            "Prepaid shipping label: %(label)s. Schedule a pickup: %(pickup)s. Customer drop-off at a carrier point: "
            "%(drop_off)s. Return to store: %(store)s. Return shipping is free when the reason is ours "
            "(%(free_reasons)s) and always free for %(free_tiers)s members. Who pays for return shipping: see above."
        ),
    ),
    (
        "damaged-items",
        gettext_noop("Damaged or defective items"),
        "Reasons",
        gettext_noop(
            "If an item arrived damaged or defective, return it free of charge: no restocking fee and free return "
            "shipping. A photo helps our team decide faster."
        ),
    ),
    (
        "wrong-item",
        gettext_noop("Wrong item received"),
        "Reasons",
        gettext_noop(
            "If we sent the wrong item or it is not as described, return it at no cost; we can send the right one "
            "as an exchange."
        ),
    ),
    (
        "late-arrival",
        gettext_noop("Items that arrived too late"),
        "Reasons",
        gettext_noop(
            "If an order arrived too late, you can return it with no restocking fee and free return shipping."
        ),
    ),
    (
        "gift-returns",
        gettext_noop("Gift returns"),
        "Reasons",
        gettext_noop(
            "Received a present you want to return? Gift returns are welcome within the usual window; choose store "
            "credit to receive the bonus."
        ),
    ),
    (
        "tracking",
        gettext_noop("Tracking your return"),
        "Process",
        gettext_noop(
            "Ask “where is my return?” in this chat to see each return's status: approved, label issued, in transit, "
            "received, refunded or credited. Every return request is reviewed by our team before it is approved."
        ),
    ),
)


def catalog_documents() -> list[PolicyDocument]:
    return [
        PolicyDocument(
            f"{CATALOG_PREFIX}{product.sku.lower()}",
            _("%(name)s return window") % {"name": product.name},
            product.category,
            (
                _("%(name)s (%(category)s): final sale, cannot be returned.")
                if product.final_sale
                else _("%(name)s (%(category)s): returnable within %(days)s days of delivery.")
            )
            % {"name": product.name, "category": _(product.category), "days": product.return_window_days},
        )
        for product in PRODUCTS
    ]


def all_documents(policy: ReturnPolicy = DEFAULT_POLICY) -> list[PolicyDocument]:
    return policy_documents(policy) + catalog_documents()


CATALOG_PREFIX = "product-"


def is_catalog_document(doc_id: str) -> bool:
    return doc_id.startswith(CATALOG_PREFIX)
