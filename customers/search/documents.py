"""The store's return policies and catalog facts, as searchable documents.

Figures are generated from the policy in force and the catalog, so what the assistant quotes from search
can never disagree with what the rules compute.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from customers.demo import PRODUCTS
from customers.domain import Reason, Shipping
from customers.policy import DEFAULT_POLICY, ReturnPolicy
from customers.search.base import PolicyDocument


def _money(cents: int) -> str:
    return f"${cents // 100}.{cents % 100:02d}"


def _percent(value: Decimal) -> str:
    """20.00 -> "20%", 12.50 -> "12.5%": as a person writes a rate."""
    return f"{value.normalize():f}%"


# A reason as the end of "because you ..."
_WHY = {Reason.CHANGED_MIND: "changed your mind", Reason.BETTER_PRICE: "found a better price"}


def _names(values: object) -> str:
    return ", ".join(sorted(str(value) for value in values))  # type: ignore[attr-defined]


def policy_documents(policy: ReturnPolicy = DEFAULT_POLICY) -> list[PolicyDocument]:
    windows: dict[int, list[str]] = defaultdict(list)
    for product in PRODUCTS:
        if not product.final_sale and product.category not in windows[product.return_window_days]:
            windows[product.return_window_days].append(product.category)
    window_text = "; ".join(f"{days} days for {', '.join(sorted(cats))}" for days, cats in sorted(windows.items()))
    costs = policy.shipping_costs_cents
    return [
        PolicyDocument(
            "return-window",
            "Return windows",
            "Eligibility",
            f"Our return policy in short: you can return most items within a window counted from the day they were "
            "delivered, last day "
            f"included: {window_text}. Items without a set window have {policy.default_return_window_days} days. "
            "After the window closes an item can no longer be returned. How long do I have? Check the days left "
            "shown beside each item.",
        ),
        PolicyDocument(
            "opened-items",
            "Opened or used items",
            "Eligibility",
            "Can opened items be returned? Yes: an item you have opened or tried can be returned within its window, "
            "ideally in its original packaging with all its accessories. Only items sold as final sale, clearance "
            f"or open-box cannot. A change of mind carries the {_percent(policy.restocking_fee_percent)} restocking "
            f"fee unless you are a {_names(policy.fee_exempt_tiers)} member.",
        ),
        PolicyDocument(
            "final-sale",
            "Final sale and clearance items",
            "Eligibility",
            "Items sold as final sale, clearance or open-box can never be returned or exchanged.",
        ),
        PolicyDocument(
            "restocking-fee",
            "Restocking fee",
            "Fees",
            f"A {_percent(policy.restocking_fee_percent)} restocking fee applies when you return an item because you "
            f"{' or '.join(sorted(_WHY.get(r, str(r).lower()) for r in policy.restocking_fee_reasons))}. "
            f"{_names(policy.fee_exempt_tiers)} members never pay the restocking fee. Items that arrived damaged, "
            "defective, wrong or not as described carry no fee.",
        ),
        PolicyDocument(
            "store-credit",
            "Store credit bonus",
            "Resolutions",
            f"Choose store credit instead of a refund and get a {_percent(policy.store_credit_bonus_percent)} bonus on "
            "top. Store credit is added to your account as soon as the return is approved and never expires.",
        ),
        PolicyDocument(
            "refunds",
            "Refunds",
            "Resolutions",
            "How long does a refund take? Refunds go back to your original payment method: we send the refund within "
            f"{policy.refund_business_days} business days of your return reaching us, and your bank may take another "
            "3 to 5 business days to show the money. Store credit is added as soon as the return is approved.",
        ),
        PolicyDocument(
            "exchanges",
            "Exchanges",
            "Resolutions",
            "Exchange an item for the same product (another colour or size where available). Exchanges carry no "
            "restocking fee and no return shipping cost.",
        ),
        PolicyDocument(
            "keep-with-discount",
            "Keep it with a discount",
            "Resolutions",
            f"For some issues you can keep the item and get {_percent(policy.keep_discount_percent)} of its price back "
            "instead of sending it back.",
        ),
        PolicyDocument(
            "return-shipping",
            "Return shipping options and costs",
            "Shipping",
            f"Prepaid shipping label: {_money(costs[Shipping.PREPAID_LABEL])}. Schedule a pickup: "
            f"{_money(costs[Shipping.PICKUP])}. Customer drop-off at a carrier point: "
            f"{_money(costs[Shipping.DROP_OFF])}. Return to store: {_money(costs[Shipping.RETURN_TO_STORE])}. "
            f"Return shipping is free when the reason is ours ({_names(policy.free_shipping_reasons)}) and "
            f"always free for {_names(policy.free_shipping_tiers)} members. Who pays for return shipping: see above.",
        ),
        PolicyDocument(
            "damaged-items",
            "Damaged or defective items",
            "Reasons",
            "If an item arrived damaged or defective, return it free of charge: no restocking fee and free return "
            "shipping. A photo helps our team decide faster.",
        ),
        PolicyDocument(
            "wrong-item",
            "Wrong item received",
            "Reasons",
            "If we sent the wrong item or it is not as described, return it at no cost; we can send the right one "
            "as an exchange.",
        ),
        PolicyDocument(
            "late-arrival",
            "Items that arrived too late",
            "Reasons",
            "If an order arrived too late, you can return it with no restocking fee and free return shipping.",
        ),
        PolicyDocument(
            "gift-returns",
            "Gift returns",
            "Reasons",
            "Received a present you want to return? Gift returns are welcome within the usual window; choose store "
            "credit to receive the bonus.",
        ),
        PolicyDocument(
            "tracking",
            "Tracking your return",
            "Process",
            "Ask “where is my return?” in this chat to see each return's status: approved, label issued, in transit, "
            "received, refunded or credited. Every return request is reviewed by our team before it is approved.",
        ),
    ]


def catalog_documents() -> list[PolicyDocument]:
    return [
        PolicyDocument(
            f"{CATALOG_PREFIX}{product.sku.lower()}",
            f"{product.name} return window",
            product.category,
            f"{product.name} ({product.category}): "
            + (
                "final sale, cannot be returned."
                if product.final_sale
                else f"returnable within {product.return_window_days} days of delivery."
            ),
        )
        for product in PRODUCTS
    ]


def all_documents(policy: ReturnPolicy = DEFAULT_POLICY) -> list[PolicyDocument]:
    return policy_documents(policy) + catalog_documents()


CATALOG_PREFIX = "product-"


def is_catalog_document(doc_id: str) -> bool:
    return doc_id.startswith(CATALOG_PREFIX)
