"""The guided assistant's widgets, built from ChatKit's widget types.

Buttons carry server actions (``ActionConfig``) whose ``type`` is one of ``Actions``; payloads hold only
ids the server checks again, never amounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from chatkit.actions import ActionConfig
from chatkit.widgets import Badge, Button, Caption, Card, Col, Divider, Markdown, Row, Text, Title
from django.urls import reverse

from chat.formats import short_date
from customers.domain import Reason, Resolution, ReturnRecord, Shipping, Tier
from customers.services.assessment import CustomerOverview, LineView
from customers.services.eligibility import IneligibleReason
from customers.services.labels import has_printable_label
from customers.services.quote import RefundQuote

TIER_COLORS = {Tier.STANDARD: "secondary", Tier.SILVER: "info", Tier.GOLD: "warning", Tier.PLATINUM: "discovery"}


class Actions:
    SELECT_ITEM = "returns.select_item"
    SELECT_REASON = "returns.select_reason"
    SELECT_RESOLUTION = "returns.select_resolution"
    SELECT_SHIPPING = "returns.select_shipping"
    SET_QUANTITY = "returns.set_quantity"
    CONFIRM = "returns.confirm"
    CHANGE = "returns.change"
    CANCEL = "returns.cancel"
    START_OVER = "returns.start_over"
    ACCEPT_OFFER = "returns.accept_offer"
    DECLINE_OFFER = "returns.decline_offer"
    CHANGE_STEP = "returns.change_step"
    STATUS = "returns.status"
    RESUME = "returns.resume"
    RATE = "conversation.rate"


CLICK_WORDS = {
    Actions.SELECT_ITEM: "chose {sku} from {order_id}",
    Actions.SELECT_REASON: "chose the reason {reason}",
    Actions.SELECT_RESOLUTION: "chose {resolution}",
    Actions.SELECT_SHIPPING: "chose {shipping}",
    Actions.SET_QUANTITY: "set the quantity of {sku} to {quantity}",
    Actions.CONFIRM: "confirmed the return",
    Actions.CHANGE: "asked to change the return",
    Actions.CANCEL: "cancelled the return",
    Actions.START_OVER: "started over",
    Actions.CHANGE_STEP: "asked to change the {step}",
    Actions.STATUS: "asked where their return is",
    Actions.ACCEPT_OFFER: "accepted the change to return request #{proposal_id}",
    Actions.DECLINE_OFFER: "kept their own request #{proposal_id}",
    Actions.RESUME: "went back to their return",
    Actions.RATE: "rated the conversation {rating} out of 5",
}


def describe_click(action_type: str, payload: dict[str, Any]) -> str:
    """What a click meant, in words, for the staff transcript ("chose Store Credit"): the cards alone do not say
    which button the customer pressed."""
    template = CLICK_WORDS.get(action_type)
    if template is None:
        return f"clicked {action_type}"[:200]
    values = defaultdict(lambda: "?", {str(key): str(value)[:80] for key, value in payload.items()})
    return template.format_map(values)[:200]


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _button(label: str, action: str, payload: dict[str, object] | None = None, primary: bool = False) -> Button:
    return Button(
        label=label,
        onClickAction=ActionConfig(type=action, payload=payload or {}),
        style="primary" if primary else "secondary",
    )


def customer_card(overview: CustomerOverview) -> Card:
    customer = overview.customer
    return Card(
        key="customer",
        children=[
            Row(
                children=[
                    Title(value=customer.name, size="sm"),
                    Badge(label=str(customer.tier), color=TIER_COLORS[customer.tier], pill=True),
                ],
                justify="between",
            ),
            Caption(value=customer.email),
        ],
    )


def _list(rows: list[Row]) -> Col:
    """A list inside a card (ChatKit allows ListView only as a root): rows separated by dividers."""
    children: list = []
    for index, row in enumerate(rows):
        if index:
            children.append(Divider(spacing=2))
        children.append(row)
    return Col(children=children, gap=2)


def eligibility_text(view: LineView) -> str:
    """Why an item can or cannot be returned, with dates as the customer's language writes them."""
    eligibility = view.eligibility
    ends = eligibility.window_ends_on
    if eligibility.reason is IneligibleReason.WINDOW_EXPIRED and ends:
        return f"The return window closed on {short_date(ends)}."
    if eligibility.eligible and ends and eligibility.days_left is not None:
        days = eligibility.days_left
        return f"{days} day{'s' if days != 1 else ''} left to return (until {short_date(ends)})."
    return eligibility.message


def _line_row(view: LineView) -> Row:
    line, eligibility = view.line, view.eligibility
    # How many can go back, only beside items that can: "1 of 1 returnable" next to "Not returnable" contradicts.
    count = [f"{line.returnable_quantity} of {line.quantity} returnable"] if eligibility.eligible else []
    details = " · ".join([view.order.order_id, *count, money(line.unit_price_cents)])
    children: list = [
        Col(
            children=[
                Text(value=line.name, weight="semibold"),
                Caption(value=details),
                Caption(value=eligibility_text(view), color="secondary" if eligibility.eligible else "danger"),
            ],
            flex=1,
        )
    ]
    if eligibility.eligible:
        payload = {"order_id": view.order.order_id, "sku": line.sku}
        children.append(_button("Return This", Actions.SELECT_ITEM, payload, primary=True))
    else:
        children.append(Badge(label="Not returnable", color="danger"))
    return Row(children=children, align="center", gap=3)


MAX_ITEM_ROWS = 12


def returnable_items(overview: CustomerOverview, order_id: str | None = None) -> Card:
    """The customer's items: those they can return first; the others folded under "Not returnable (n)" (the
    page opens it on wide screens) with their reasons, so a phone shows what can be done without scrolling."""
    views = [v for v in overview.lines if order_id is None or v.order.order_id == order_id]
    views.sort(key=lambda v: (not v.eligibility.eligible, v.order.order_id != order_id))
    can = [v for v in views if v.eligibility.eligible][:MAX_ITEM_ROWS]
    cannot = [v for v in views if not v.eligibility.eligible][:MAX_ITEM_ROWS]
    children: list = [Title(value="Which item would you like to return?", size="sm")]
    if can:
        children.append(_list([_line_row(v) for v in can]))
    else:
        children.append(Caption(value="None of your items can be returned right now."))
    if cannot:
        children.append(
            Col(
                key=NOT_RETURNABLE_KEY,
                children=[Caption(value=f"Not returnable ({len(cannot)})"), _list([_line_row(v) for v in cannot])],
            )
        )
    return Card(key="items", children=children)


NOT_RETURNABLE_KEY = "not-returnable"  # static/shared/widgets.js draws it folded


REASON_ORDER = list(Reason)


def reason_options(item_names: str) -> Card:
    return Card(
        key="reasons",
        children=[
            Title(value=f"Why are you returning {item_names}?", size="sm"),
            Col(
                children=[
                    _button(str(reason), Actions.SELECT_REASON, {"reason": str(reason)}) for reason in REASON_ORDER
                ],
                gap=2,
            ),
        ],
    )


def _quote_summary(quote: RefundQuote) -> str:
    if quote.resolution is Resolution.EXCHANGE:
        return "Replacement sent, nothing charged"
    parts = []
    if quote.restocking_fee_cents:
        parts.append(f"{money(quote.restocking_fee_cents)} restocking fee")
    if quote.shipping_cost_cents:
        parts.append(f"{money(quote.shipping_cost_cents)} return shipping")
    if quote.bonus_cents:
        parts.append(f"+{money(quote.bonus_cents)} bonus")
    if quote.fee_waived_reason:
        parts.append(quote.fee_waived_reason)
    amount = money(quote.total_cents)
    what = "store credit" if quote.store_credit_cents else "back"
    return f"{amount} {what}" + (f" ({'; '.join(parts)})" if parts else "")


def _option_row(title: str, caption: str, action: str, payload: dict[str, object]) -> Row:
    return Row(
        children=[
            Col(children=[Text(value=title, weight="semibold"), Caption(value=caption)], flex=1),
            _button("Choose", action, payload),
        ],
        align="center",
        gap=3,
    )


def resolution_options(quotes: list[RefundQuote]) -> Card:
    rows = [
        _option_row(str(q.resolution), _quote_summary(q), Actions.SELECT_RESOLUTION, {"resolution": str(q.resolution)})
        for q in quotes
    ]
    return Card(key="resolutions", children=[Title(value="How would you like this resolved?", size="sm"), _list(rows)])


def shipping_options(costs: dict[Shipping, int]) -> Card:
    rows = [
        _option_row(
            str(option),
            "Free" if cost == 0 else f"{money(cost)} deducted",
            Actions.SELECT_SHIPPING,
            {"shipping": str(option)},
        )
        for option, cost in costs.items()
    ]
    return Card(key="shipping", children=[Title(value="How will you send it back?", size="sm"), _list(rows)])


@dataclass(frozen=True)
class SummaryLine:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    returnable: int


def _quantity_stepper(line: SummaryLine) -> Row:
    """Fewer / more buttons, shown only when more than one unit could be returned."""
    children: list = []
    if line.quantity > 1:
        children.append(_button("−", Actions.SET_QUANTITY, {"sku": line.sku, "quantity": line.quantity - 1}))
    if line.quantity < line.returnable:
        children.append(_button("+", Actions.SET_QUANTITY, {"sku": line.sku, "quantity": line.quantity + 1}))
    return Row(children=children, gap=1)


def summary(
    order_id: str, items: list[SummaryLine], reason: Reason, shipping: Shipping | None, quote: RefundQuote
) -> Card:
    lines: list = [Title(value="Your return", size="sm"), Caption(value=f"Order {order_id}")]
    for line in items:
        children: list = [Text(value=f"{line.quantity} × {line.name}")]
        if line.returnable > 1:
            children.append(_quantity_stepper(line))
        children.append(Text(value=money(line.quantity * line.unit_price_cents)))
        lines.append(Row(children=children, justify="between", align="center"))
    lines += [
        Divider(),
        Row(children=[Caption(value="Reason"), Text(value=str(reason))], justify="between"),
        Row(children=[Caption(value="Resolution"), Text(value=str(quote.resolution))], justify="between"),
        Row(
            children=[Caption(value="Shipping"), Text(value=str(shipping) if shipping else "Keep the item")],
            justify="between",
        ),
    ]
    for label, cents, sign in (
        ("Restocking fee", quote.restocking_fee_cents, -1),
        ("Return shipping", quote.shipping_cost_cents, -1),
        ("Store credit bonus", quote.bonus_cents, 1),
    ):
        if cents:
            lines.append(Row(children=[Caption(value=label), Text(value=money(sign * cents))], justify="between"))
    total_label = "Store credit" if quote.store_credit_cents else "Refund"
    lines += [
        Divider(),
        Row(
            children=[
                Text(value=total_label, weight="semibold"),
                Text(value=money(quote.total_cents), weight="semibold"),
            ],
            justify="between",
        ),
        Row(
            children=[
                _button("Confirm", Actions.CONFIRM, primary=True),
                _button("Change", Actions.CHANGE),
                _button("Cancel", Actions.CANCEL),
            ],
            gap=2,
        ),
    ]
    return Card(key="summary", children=lines)


def label_link(record: ReturnRecord) -> tuple[str, str] | None:
    """(text, address) of the return's printable label when it has one: a parcel to send or a store return."""
    if not has_printable_label(record):
        return None
    return "Print your return label", reverse("chat-return-label", args=[record.return_id])


def status_card(
    title: str,
    badge: str,
    badge_color: str,
    rows: list[tuple[str, str]],
    note: str = "",
    link: tuple[str, str] | None = None,
) -> Card:
    """``link`` (text, address under /chat/returns/) is a Markdown link: the customer's page opens only those."""
    children: list = [
        Row(children=[Title(value=title, size="sm"), Badge(label=badge, color=badge_color)], justify="between")
    ]
    for label, value in rows:
        children.append(Row(children=[Caption(value=label), Text(value=value)], justify="between"))
    if note:
        children.append(Caption(value=note))
    if link:
        children.append(Markdown(value=f"[{link[0]}]({link[1]})"))
    return Card(key="status", children=children)


def offer_card(proposal_id: int, rows: list[tuple[str, str]]) -> Card:
    """A change our team suggests to a return request: the customer accepts it or keeps their own request."""
    children: list = [
        Row(
            children=[
                Title(value=f"Return request #{proposal_id}", size="sm"),
                Badge(label="Change suggested", color="info"),
            ],
            justify="between",
        )
    ]
    for label, value in rows:
        children.append(Row(children=[Caption(value=label), Text(value=value)], justify="between"))
    payload = {"proposal_id": proposal_id}
    children.append(
        Row(
            children=[
                _button("Accept the change", Actions.ACCEPT_OFFER, payload, primary=True),
                _button("Keep my request", Actions.DECLINE_OFFER, payload),
            ]
        )
    )
    return Card(key="offer", children=children)


def choices(question: str, options: list[tuple[str, str, dict[str, object]]]) -> Card:
    """A short question with buttons, so unclear input never ends in a dead end."""
    return Card(
        key="choices",
        children=[
            Text(value=question),
            Row(children=[_button(label, action, payload) for label, action, payload in options], gap=2, wrap="wrap"),
        ],
    )


def rating_card() -> Card:
    """How did we do? 1 to 5, asked once a conversation comes to an end."""
    buttons = [_button(str(score), Actions.RATE, {"rating": score}) for score in range(1, 6)]
    return Card(
        key="rating",
        children=[
            Title(value="How did we do?", size="sm"),
            Row(children=buttons, gap=2),
            Caption(value="1 = poor, 5 = excellent. You can add a comment after rating."),
        ],
    )


def resume_card(item_names: str) -> Card:
    """After a side question in the middle of a return: the way back to the step the customer was on."""
    return choices(
        f"Shall we carry on with your return of {item_names}?",
        [("Continue my return", Actions.RESUME, {}), ("Cancel the return", Actions.CANCEL, {})],
    )
