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
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from chat.formats import short_date
from customers.domain import Reason, Resolution, ReturnRecord, Shipping, Tier
from customers.money import dollars
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


# The options' names as the widgets show them (the values stay English: they are the tools' contract).
CHOICE_NAMES = (
    gettext_noop("Damaged/Defective"),
    gettext_noop("Wrong Item"),
    gettext_noop("Not as Described"),
    gettext_noop("Changed My Mind"),
    gettext_noop("Found Better Price"),
    gettext_noop("Arrived Too Late"),
    gettext_noop("Full Refund"),
    gettext_noop("Exchange"),
    gettext_noop("Store Credit"),
    gettext_noop("Keep with Discount"),
    gettext_noop("Prepaid Shipping Label"),
    gettext_noop("Schedule Pickup"),
    gettext_noop("Customer Drop-off"),
    gettext_noop("Return to Store"),
)


def choice_name(value: object) -> str:
    """A reason, resolution or shipping option in the customer's language."""
    return _(str(value))


money = dollars


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
    line = view.line
    if eligibility.reason is IneligibleReason.WINDOW_EXPIRED and ends:
        return _("The return window closed on %(date)s.") % {"date": short_date(ends)}
    if eligibility.eligible and ends and eligibility.days_left is not None:
        days = eligibility.days_left
        left = ngettext("%(days)s day left to return", "%(days)s days left to return", days) % {"days": days}
        return _("%(left)s (until %(date)s).") % {"left": left, "date": short_date(ends)}
    words = {
        IneligibleReason.FINAL_SALE: _("%(name)s was a final-sale item and cannot be returned."),
        IneligibleReason.NOT_DELIVERED: _("Order %(order)s has not been delivered yet."),
        IneligibleReason.FULLY_RETURNED: _("All %(count)s of %(name)s have already been returned."),
        IneligibleReason.UNKNOWN_PRODUCT: _("We could not find this product in our catalog."),
    }.get(eligibility.reason)  # type: ignore[arg-type]
    if words is None:
        return eligibility.message
    return words % {"name": line.name, "order": view.order.order_id, "count": line.quantity}


def _line_row(view: LineView) -> Row:
    line, eligibility = view.line, view.eligibility
    # How many can go back, only beside items that can: "1 of 1 returnable" next to "Not returnable" contradicts.
    returnable = _("%(left)s of %(all)s returnable") % {"left": line.returnable_quantity, "all": line.quantity}
    count = [returnable] if eligibility.eligible else []
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
        children.append(_button(_("Return This"), Actions.SELECT_ITEM, payload, primary=True))
    else:
        children.append(Badge(label=_("Not returnable"), color="danger"))
    return Row(children=children, align="center", gap=3)


MAX_ITEM_ROWS = 12


def returnable_items(overview: CustomerOverview, order_id: str | None = None) -> Card:
    """The customer's items: those they can return first; the others folded under "Not returnable (n)" (the
    page opens it on wide screens) with their reasons, so a phone shows what can be done without scrolling."""
    views = [v for v in overview.lines if order_id is None or v.order.order_id == order_id]
    views.sort(key=lambda v: (not v.eligibility.eligible, v.order.order_id != order_id))
    can = [v for v in views if v.eligibility.eligible][:MAX_ITEM_ROWS]
    cannot = [v for v in views if not v.eligibility.eligible][:MAX_ITEM_ROWS]
    children: list = [Title(value=_("Which item would you like to return?"), size="sm")]
    if can:
        children.append(_list([_line_row(v) for v in can]))
    else:
        children.append(Caption(value=_("None of your items can be returned right now.")))
    if cannot:
        children.append(
            Col(
                key=NOT_RETURNABLE_KEY,
                children=[
                    Caption(value=_("Not returnable (%(count)s)") % {"count": len(cannot)}),
                    _list([_line_row(v) for v in cannot]),
                ],
            )
        )
    return Card(key="items", children=children)


NOT_RETURNABLE_KEY = "not-returnable"  # static/shared/widgets.js draws it folded


REASON_ORDER = list(Reason)


def reason_options(item_names: str, suggested: Reason | None = None) -> Card:
    """The reasons to pick from; one the assistant read in the customer's words comes first, highlighted."""
    order = [suggested, *(reason for reason in REASON_ORDER if reason is not suggested)] if suggested else REASON_ORDER
    return Card(
        key="reasons",
        children=[
            Title(value=_("Why are you returning %(items)s?") % {"items": item_names}, size="sm"),
            Col(
                children=[
                    _button(
                        choice_name(reason), Actions.SELECT_REASON, {"reason": str(reason)}, primary=reason is suggested
                    )
                    for reason in order
                ],
                gap=2,
            ),
        ],
    )


def _quote_summary(quote: RefundQuote) -> str:
    if quote.resolution is Resolution.EXCHANGE:
        return _("Replacement sent, nothing charged")
    parts = []
    if quote.restocking_fee_cents:
        parts.append(_("%(amount)s restocking fee") % {"amount": money(quote.restocking_fee_cents)})
    if quote.shipping_cost_cents:
        parts.append(_("%(amount)s return shipping") % {"amount": money(quote.shipping_cost_cents)})
    if quote.bonus_cents:
        parts.append(_("+%(amount)s bonus") % {"amount": money(quote.bonus_cents)})
    if quote.fee_waived_reason:
        parts.append(quote.fee_waived_reason)
    amount = money(quote.total_cents)
    told = _("%(amount)s store credit") if quote.store_credit_cents else _("%(amount)s back")
    return told % {"amount": amount} + (f" ({'; '.join(parts)})" if parts else "")


def _option_row(title: str, caption: str, action: str, payload: dict[str, object]) -> Row:
    return Row(
        children=[
            Col(children=[Text(value=title, weight="semibold"), Caption(value=caption)], flex=1),
            _button(_("Choose"), action, payload),
        ],
        align="center",
        gap=3,
    )


def resolution_options(quotes: list[RefundQuote]) -> Card:
    rows = [
        _option_row(
            choice_name(q.resolution), _quote_summary(q), Actions.SELECT_RESOLUTION, {"resolution": str(q.resolution)}
        )
        for q in quotes
    ]
    title = Title(value=_("How would you like this resolved?"), size="sm")
    return Card(key="resolutions", children=[title, _list(rows)])


def shipping_options(costs: dict[Shipping, int]) -> Card:
    rows = [
        _option_row(
            choice_name(option),
            _("Free") if cost == 0 else _("%(amount)s deducted") % {"amount": money(cost)},
            Actions.SELECT_SHIPPING,
            {"shipping": str(option)},
        )
        for option, cost in costs.items()
    ]
    return Card(key="shipping", children=[Title(value=_("How will you send it back?"), size="sm"), _list(rows)])


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
    lines: list = [Title(value=_("Your return"), size="sm"), Caption(value=_("Order %(order)s") % {"order": order_id})]
    for line in items:
        children: list = [Text(value=f"{line.quantity} × {line.name}")]
        if line.returnable > 1:
            children.append(_quantity_stepper(line))
        children.append(Text(value=money(line.quantity * line.unit_price_cents)))
        lines.append(Row(children=children, justify="between", align="center"))
    lines += [
        Divider(),
        Row(children=[Caption(value=_("Reason")), Text(value=choice_name(reason))], justify="between"),
        Row(children=[Caption(value=_("Resolution")), Text(value=choice_name(quote.resolution))], justify="between"),
        Row(
            children=[
                Caption(value=_("Shipping")),
                Text(value=choice_name(shipping) if shipping else _("Keep the item")),
            ],
            justify="between",
        ),
    ]
    for label, cents, sign in (
        (_("Restocking fee"), quote.restocking_fee_cents, -1),
        (_("Return shipping"), quote.shipping_cost_cents, -1),
        (_("Store credit bonus"), quote.bonus_cents, 1),
    ):
        if cents:
            lines.append(Row(children=[Caption(value=label), Text(value=money(sign * cents))], justify="between"))
    total_label = _("Store credit") if quote.store_credit_cents else _("Refund")
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
                _button(_("Confirm"), Actions.CONFIRM, primary=True),
                _button(_("Change"), Actions.CHANGE),
                _button(_("Cancel"), Actions.CANCEL),
            ],
            gap=2,
        ),
    ]
    return Card(key="summary", children=lines)


def label_link(record: ReturnRecord) -> tuple[str, str] | None:
    """(text, address) of the return's printable label when it has one: a parcel to send or a store return."""
    if not has_printable_label(record):
        return None
    return _("Print your return label"), reverse("chat-return-label", args=[record.return_id])


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
                Title(value=_("Return request #%(id)s") % {"id": proposal_id}, size="sm"),
                Badge(label=_("Change suggested"), color="info"),
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
                _button(_("Accept the change"), Actions.ACCEPT_OFFER, payload, primary=True),
                _button(_("Keep my request"), Actions.DECLINE_OFFER, payload),
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
            Title(value=_("How did we do?"), size="sm"),
            Row(children=buttons, gap=2),
            Caption(value=_("1 = poor, 5 = excellent. You can add a comment after rating.")),
        ],
    )


def resume_card(item_names: str) -> Card:
    """After a side question in the middle of a return: the way back to the step the customer was on."""
    return choices(
        _("Shall we carry on with your return of %(items)s?") % {"items": item_names},
        [(_("Continue my return"), Actions.RESUME, {}), (_("Cancel the return"), Actions.CANCEL, {})],
    )
