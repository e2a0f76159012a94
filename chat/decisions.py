"""What the customer is told when staff (or a rule) decide on their return, and when the commit lands.

The customers app announces every change of a proposal (``proposal_changed``); this module turns it into a
message and a status card in the customer's conversation. Posting reads and writes Cosmos, so it runs as a
Celery task: a web request that approved something does not wait for it, and a hiccup is retried.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItem, WidgetItem
from django.utils import translation
from django.utils.translation import gettext as _

from chat import ownership, widgets
from chat.conversations import CONVERSATION_BY_THREAD
from chat.models import Conversation
from chat.push import post_to_thread
from chat.ratings import is_rated
from chat.statuses import items_text, money_back_row, request_status, return_status
from chat.store import CosmosChatStore
from customers import clock
from customers.cosmos.repository import CosmosRepository
from customers.domain import ReturnRecord
from customers.errors import NotFound
from customers.models import Proposal, ProposalState

logger = logging.getLogger(__name__)

# What the customer sees for each state; "committing" is too brief to be worth a message.
TOLD = {
    ProposalState.APPROVED,
    ProposalState.REJECTED,
    ProposalState.COMMITTED,
    ProposalState.FAILED,
    ProposalState.CLOSED,
    ProposalState.CANCELLED,
}


def _lines(proposal: Proposal) -> str:
    return items_text([(line["quantity"], line["name"]) for line in proposal.lines])


def _amount_row(proposal: Proposal) -> tuple[str, str]:
    quote = proposal.quote
    return money_back_row(
        int(quote.get("store_credit_cents", 0)),
        int(quote.get("refund_cents", 0)),
        (widgets.choice_name(proposal.resolution), widgets.money(proposal.total_cents)),
    )


def _card(title: str, state: str, rows: list[tuple[str, str]], **extra: Any) -> Any:
    """A status card named as every other card names that state (chat.statuses)."""
    name, colour = request_status(state)
    return widgets.status_card(title, name, colour, rows, **extra)


def _offer_message(proposal: Proposal) -> tuple[str, Any, str]:
    offer = proposal.offer or {}
    quote = offer.get("quote", {})
    credit, refund = int(quote.get("store_credit_cents", 0)), int(quote.get("refund_cents", 0))
    rows = [
        (_("Items"), items_text([(line["quantity"], line["name"]) for line in offer.get("lines", [])])),
        (_("Resolution"), widgets.choice_name(offer.get("resolution", ""))),
    ]
    if credit or refund:
        rows.append(money_back_row(credit, refund, ("", "")))
    if offer.get("shipping"):
        rows.append((_("Shipping"), widgets.choice_name(offer["shipping"])))
    changes = []
    if offer.get("resolution") != proposal.resolution:
        changes.append(
            _("%(new)s instead of %(old)s")
            % {"new": widgets.choice_name(offer.get("resolution")), "old": widgets.choice_name(proposal.resolution)}
        )
    before = int(proposal.quote.get("store_credit_cents", 0)) + int(proposal.quote.get("refund_cents", 0))
    if credit + refund != before:
        changes.append(
            _("%(new)s back instead of %(old)s") % {"new": widgets.money(credit + refund), "old": widgets.money(before)}
        )
    note = f" ({offer['reason_for_change']})" if offer.get("reason_for_change") else ""
    text = _(
        "Our team reviewed your return request and suggests a change: %(changes)s%(note)s. "
        "You can accept it, or keep your own request and our team will review it as it is."
    ) % {"changes": _(" and ").join(changes) or _("see below"), "note": note}
    return (
        " ".join(text.split()),
        widgets.offer_card(proposal.pk, rows),
        f"Return request #{proposal.pk}: change suggested",
    )


def decision_message(proposal: Proposal, record: ReturnRecord | None) -> tuple[str, Any, str]:
    """(text, status card, card copy text) for the proposal's current state."""
    title = _("Return request #%(id)s") % {"id": proposal.pk}
    order_row = (_("Order"), proposal.order_id)
    if proposal.state == ProposalState.PROPOSED and proposal.offer:
        return _offer_message(proposal)
    if proposal.state == ProposalState.REJECTED:
        text = _("Our team reviewed your return request and couldn't approve it: %(why)s") % {
            "why": proposal.customer_message
        }
        card = _card(title, proposal.state, [order_row])
        return text, card, f"{title}: not approved"
    if proposal.state == ProposalState.CLOSED:
        text = _("We're sorry: we couldn't complete your return request. %(why)s") % {"why": proposal.customer_message}
        card = _card(title, proposal.state, [order_row])
        return text, card, f"{title}: closed"
    if proposal.state == ProposalState.CANCELLED:
        rows = [(_("Return"), proposal.return_id), (_("Items"), _lines(proposal))]
        credit, refund = int(proposal.quote.get("store_credit_cents", 0)), int(proposal.quote.get("refund_cents", 0))
        if credit:
            money_back = _("The %(amount)s store credit has been taken back.") % {"amount": widgets.money(credit)}
        elif refund:
            money_back = _("The %(amount)s refund will not be paid.") % {"amount": widgets.money(refund)}
        else:
            money_back = ""
        text = _("Your return %(id)s has been cancelled. %(money)s The items can be returned again.") % {
            "id": proposal.return_id,
            "money": money_back,
        }
        card = _card(_("Return %(id)s") % {"id": proposal.return_id}, proposal.state, rows)
        return " ".join(text.split()), card, f"Return {proposal.return_id}: cancelled"
    if proposal.state == ProposalState.FAILED:
        text = _(
            "Your return was approved, but we hit a problem creating it. "
            "Our team is on it; nothing more is needed from you."
        )
        card = _card(title, proposal.state, [order_row])
        return text, card, f"{title}: delayed"
    if proposal.state == ProposalState.COMMITTED and record is not None:
        rows = [(_("Return"), record.return_id), (_("Items"), _lines(proposal)), _amount_row(proposal)]
        if record.tracking_number:
            rows.append((_("Tracking"), record.tracking_number))
        text = _("Good news: your return %(id)s is approved and ready.") % {"id": record.return_id}
        name, colour = return_status(record.status)
        card = widgets.status_card(
            _("Return %(id)s") % {"id": record.return_id},
            name,
            colour,
            rows,
            note=record.instructions,
            link=widgets.label_link(record),
        )
        return text, card, f"Return {record.return_id}: {name.lower()}"
    text = _("Your return was approved. We're creating it now…")
    card = _card(title, proposal.state, [(_("Items"), _lines(proposal)), _amount_row(proposal)])
    return text, card, f"{title}: approved"


def _items(thread_id: str, text: str, card: Any, copy_text: str, ask_rating: bool, told: str) -> list[ThreadItem]:
    """The message, its card and maybe the rating ask. ``told``: which decision this tells, so that telling it
    again (a worker that died before its task was acknowledged) stores and shows the same items, not a copy."""
    now = clock.now()

    def item_id(n: int) -> str:
        return ownership.new_item_id("msg", thread_id, seed=f"{told}:{n}")

    rating = WidgetItem(
        id=item_id(2),
        thread_id=thread_id,
        created_at=now,
        widget=widgets.rating_card(),
        copy_text="How did we do? Rate us 1 to 5",
    )
    return [
        AssistantMessageItem(
            id=item_id(0),
            thread_id=thread_id,
            created_at=now,
            content=[AssistantMessageContent(text=text)],
        ),
        WidgetItem(
            id=item_id(1),
            thread_id=thread_id,
            created_at=now,
            widget=card,
            copy_text=copy_text,
        ),
        *([rating] if ask_rating else []),
    ]


def _language_and_rated(thread_id: str) -> tuple[str, bool]:
    """The customer's language (this runs in a worker, outside their request) and whether they rated the
    conversation already: one trip to the database thread."""
    try:
        language = CONVERSATION_BY_THREAD.get(thread_id).language
    except Conversation.DoesNotExist:
        language = ""
    return language, is_rated(thread_id)


async def tell_customer(repo: CosmosRepository, proposal: Proposal) -> None:
    """Post the decision into the proposal's conversation and push it to the customer's open page."""
    if proposal.state not in TOLD and not (proposal.state == ProposalState.PROPOSED and proposal.offer):
        return
    record = None
    if proposal.state == ProposalState.COMMITTED and proposal.return_id:
        try:
            record = await repo.get_return(proposal.customer_id, proposal.return_id)
        except NotFound:
            logger.warning(
                "proposal %s committed as %s, but the return is not readable", proposal.pk, proposal.return_id
            )
    language, rated = await sync_to_async(_language_and_rated)(proposal.thread_id)
    # A return approved and ready is the end of the conversation: how did we do?
    ask_rating = record is not None and not rated
    with translation.override(language or None):
        text, card, copy_text = decision_message(proposal, record)
        told = f"decision:{proposal.pk}:{proposal.version}:{proposal.state}"
        items = _items(proposal.thread_id, text, card, copy_text, ask_rating, told)
    await post_to_thread(CosmosChatStore(repo.database), proposal.customer_id, proposal.thread_id, *items)
