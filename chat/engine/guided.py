"""The guided assistant: offline, deterministic slot filling over text and widget clicks.

Each turn reads the customer's orders from the system of record, applies what the customer said or clicked
to the ``Flow``, and shows the next missing step: items -> reason -> resolution (with exact quotes) ->
shipping -> summary -> proposal. Clicks never go through language understanding; text does, and both land
in the same ``Flow`` methods.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from asgiref.sync import sync_to_async
from chatkit.store import Store
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from chat import conversations, ratings, widgets
from chat.context import ChatContext
from chat.engine.events import Emitter
from chat.engine.flow import Flow, FlowStep
from chat.engine.tools import ReturnsTools
from chat.engine.understanding import CatalogItem, Intent, ItemMention, Understanding, understand
from chat.models import Conversation, ConversationMode
from chat.statuses import items_text, money_back_row, request_status, return_status
from chat.turns import TurnReport
from chat.widgets import Actions
from customers.clock import store_today
from customers.cosmos.runner import loop_repository
from customers.domain import Reason, Resolution, ReturnRecord, ReturnStatus, Shipping
from customers.errors import ReturnsError
from customers.models import Proposal, ProposalState
from customers.policy import ReturnPolicy
from customers.search.catalog import catalog_search
from customers.selectors.policy import aactive_policy
from customers.services import decisions
from customers.services.assessment import Assessment, CustomerOverview, Selection, assess, customer_overview
from customers.services.policy_answers import policy_hits
from customers.services.proposals import ProposalRequest, file_proposal
from customers.services.quote import RefundQuote

logger = logging.getLogger(__name__)

# Clicks on the choices of the return in progress: what is left to return was read when the items were offered, and
# the confirm click assesses the return on orders read afresh, so these may use this process's copy of the orders
# (one Cosmos query fewer a click). Typed messages, menus and starting again read them now.
GOES_ON_FROM_WHAT_WAS_SHOWN = frozenset(
    {
        Actions.SELECT_ITEM,
        Actions.SELECT_REASON,
        Actions.SELECT_RESOLUTION,
        Actions.SELECT_SHIPPING,
        Actions.SET_QUANTITY,
    }
)

# What happens next, honestly: the conversation is in the team's queue now; nobody is promised at a time we do not know.
HANDOFF_ANSWER = gettext_noop(
    "I've passed this conversation to our support team: it is in their queue now, marked as asking for a person. "
    "The next available agent will reply right here; if you close this page, their answer will be waiting when you "
    "come back. Until then I can still help with your return if you like."
)


def menu() -> list[tuple[str, str, dict[str, object]]]:
    return [(_("Start a return"), Actions.START_OVER, {}), (_("Where is my return?"), Actions.STATUS, {})]


class GuidedEngine:
    label = "guided"
    # Its turns take milliseconds of work: the dashboards hear of each at its end, in one burst (chat.mirror).
    mirrored_live = False

    def __init__(self, store: Store[ChatContext]) -> None:
        self.store = store
        self.report = TurnReport(self.label)

    async def respond(
        self, thread: ThreadMetadata, message: UserMessageItem | None, context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        text = " ".join(part.text for part in (message.content if message else []) if getattr(part, "text", None))
        async for event in self._turn(thread, context, text=text):
            yield event

    async def action(
        self, thread: ThreadMetadata, action_type: str, payload: dict[str, Any], context: ChatContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in self._turn(thread, context, action=(action_type, payload)):
            yield event

    # --- one turn -------------------------------------------------------------------------------
    async def _turn(
        self,
        thread: ThreadMetadata,
        context: ChatContext,
        text: str | None = None,
        action: tuple[str, dict[str, Any]] | None = None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        policy = await aactive_policy()
        # Choices may be shown from copies of the customer and catalog, and a click that goes on from what was just
        # shown from a copy of the orders too; a confirm click files, so it reads all.
        max_age = 0.0 if action and action[0] == Actions.CONFIRM else settings.REFERENCE_DATA_MAX_AGE_SECONDS
        orders_max_age = max_age if action and action[0] in GOES_ON_FROM_WHAT_WAS_SHOWN else 0.0
        overview: CustomerOverview | None = None

        async def read_overview() -> CustomerOverview:
            nonlocal overview
            if overview is None:
                overview = await customer_overview(
                    await loop_repository(),
                    context.customer_id,
                    policy,
                    store_today(),
                    reference_max_age=max_age,
                    orders_max_age=orders_max_age,
                )
            return overview

        # A new conversation is created described: the dashboards hear of it once, with the customer's name.
        conversation = await conversations.note_customer_turn(
            thread.id, context.customer_id, said=text if action is None else None, description=read_overview
        )
        if conversation.mode == ConversationMode.HUMAN:
            return  # an agent has this conversation: the customer's words reach them, the assistant stays quiet
        out = Emitter(self.store, thread, context)
        flow = Flow.load(thread.metadata)
        yield out.progress(_("Looking up your orders…"))
        overview = await read_overview()
        await conversations.describe_customer(conversation, overview)
        turn = _Turn(out, flow, overview, policy, context, thread, conversation)
        steps = turn.on_action(*action) if action is not None else turn.on_text(text or "")
        async for event in steps:
            yield event
        flow.save(thread.metadata)


class _Turn:
    """The work of one turn, with everything it needs at hand."""

    def __init__(
        self,
        out: Emitter,
        flow: Flow,
        overview: CustomerOverview,
        policy: ReturnPolicy,
        context: ChatContext,
        thread: ThreadMetadata,
        conversation: Conversation,
    ) -> None:
        self.conversation = conversation
        self.out = out
        self.flow = flow
        self.overview = overview
        self.policy = policy
        self.context = context
        self.thread = thread

    # --- clicks ---------------------------------------------------------------------------------
    async def on_action(self, action_type: str, payload: dict[str, Any]) -> AsyncIterator[ThreadStreamEvent]:
        flow = self.flow
        try:
            if action_type == Actions.SELECT_ITEM:
                async for event in self._choose_item(
                    str(payload.get("order_id", "")), str(payload.get("sku", "")), None
                ):
                    yield event
                return
            elif action_type == Actions.SELECT_REASON:
                flow.choose_reason(Reason(str(payload.get("reason"))))
            elif action_type == Actions.SELECT_RESOLUTION:
                flow.resolution = Resolution(str(payload.get("resolution")))
            elif action_type == Actions.SELECT_SHIPPING:
                flow.shipping = Shipping(str(payload.get("shipping")))
            elif action_type == Actions.SET_QUANTITY:
                self._set_quantity(str(payload.get("sku", "")), payload.get("quantity"))
            elif action_type == Actions.CONFIRM:
                async for event in self._confirm():
                    yield event
                return
            elif action_type == Actions.CHANGE:
                async for event in self._ask_what_to_change():
                    yield event
                return
            elif action_type == Actions.CHANGE_STEP:
                self._clear_step(str(payload.get("step", "")))
            elif action_type == Actions.CANCEL:
                flow.reset()
                async for event in self.out.say(
                    _("No problem, I've cancelled that return. Anything else I can help with?")
                ):
                    yield event
                yield self.out.widget(widgets.choices(_("What would you like to do?"), menu()), "Menu")
                return
            elif action_type == Actions.START_OVER:
                flow.reset()
            elif action_type == Actions.STATUS:
                async for event in self._status():
                    yield event
                return
            elif action_type == Actions.RATE:
                async for event in self._rate(payload.get("rating")):
                    yield event
                return
            elif action_type == Actions.RESUME:
                pass  # back to the step the customer was on, below
            elif action_type in (Actions.ACCEPT_OFFER, Actions.DECLINE_OFFER):
                async for event in self._answer_offer(int(payload.get("proposal_id", 0)), action_type):
                    yield event
                return
            else:
                async for event in self.out.say(_("Sorry, I didn't recognise that choice.")):
                    yield event
                return
        except (ValueError, TypeError):
            async for event in self.out.say(_("Sorry, that choice isn't valid any more. Here is where we are:")):
                yield event
        async for event in self._next_step():
            yield event

    async def _answer_offer(self, proposal_id: int, action_type: str) -> AsyncIterator[ThreadStreamEvent]:
        """The customer's answer to a change our team suggested; the decision is the customers app's."""
        accept = action_type == Actions.ACCEPT_OFFER
        try:
            await sync_to_async(decisions.answer_offer)(
                proposal_id=proposal_id, customer_id=self.context.customer_id, accept=accept
            )
        except ReturnsError as refused:
            async for event in self.out.say(refused.message):
                yield event
            return
        answer = (
            _("Thank you: the change is accepted and your return is approved. You'll see it confirmed here shortly.")
            if accept
            else _("Understood: we'll keep your request as you made it, and our team will review it.")
        )
        async for event in self.out.say(answer):
            yield event

    # --- text -----------------------------------------------------------------------------------
    async def on_text(self, text: str) -> AsyncIterator[ThreadStreamEvent]:
        catalog = list({v.line.sku: CatalogItem(v.line.sku, v.line.name) for v in self.overview.lines}.values())
        flow = self.flow
        if flow.rating_comment:
            flow.rating_comment = False
            # Free words after a rating are its comment unless the tables themselves hear a request: the
            # trained model would read "great service" as asking for help.
            plain = understand(text, catalog, model=None)
            if plain.intent in COMMENT_INTENTS and not _has_slots(plain):
                async for event in self._rating_comment(text):
                    yield event
                return
        said = understand(text, catalog)
        if said.intent is Intent.START_RETURN and not said.items:
            said = await self._semantic_item(said, text)
        if said.intent is Intent.CANCEL:
            async for event in self.on_action(Actions.CANCEL, {}):
                yield event
            return
        if said.intent is Intent.START_OVER:
            flow.reset()
        if said.intent is Intent.RETURN_STATUS:
            async for event in self._status():
                yield event
            async for event in self._offer_way_back():
                yield event
            return
        if said.intent is Intent.POLICY_QUESTION:
            async for event in self._answer_policy(said.policy_topic or ""):
                yield event
            async for event in self._offer_way_back():
                yield event
            return
        if said.intent is Intent.HUMAN:
            await conversations.ask_for_person(self.conversation)
            async for event in self.out.say(_(HANDOFF_ANSWER)):
                yield event
            return
        if said.intent is Intent.START_RETURN and flow.proposal_id:
            flow.reset()  # a new return after one was filed
        # "yes" to the reason it sounded like
        accepted = flow.suggested_reason if said.intent is Intent.YES and flow.step is FlowStep.REASON else None
        if accepted:
            flow.choose_reason(accepted)
        applied = [event async for event in self._apply_slots(said)]
        for event in applied:
            yield event
        if said.intent in (Intent.CONFIRM, Intent.YES) and flow.complete:
            async for event in self._confirm():
                yield event
            return
        if said.intent in (Intent.CHANGE, Intent.NO) and not _has_slots(said) and flow.complete:
            async for event in self._ask_what_to_change():
                yield event
            return
        understood = (
            bool(accepted)
            or _has_slots(said)
            or said.intent in (Intent.START_RETURN, Intent.START_OVER, Intent.GREETING)
        )
        if not understood and said.intent in (Intent.THANKS,):
            async for event in self.out.say(_("You're welcome! Anything else I can help with?")):
                yield event
            async for event in self._ask_for_rating():
                yield event
            return
        if not understood and said.intent is Intent.HELP:
            async for event in self.out.say(
                "I can start a return, tell you where a return is, and answer questions about our return policy."
            ):
                yield event
            yield self.out.widget(widgets.choices(_("What would you like to do?"), menu()), "Menu")
            return
        if not understood and not flow.items:
            async for event in self.out.say(_("Sorry, I didn't quite get that. What would you like to do?")):
                yield event
            yield self.out.widget(widgets.choices(_("Choose one:"), menu()), "Menu")
            return
        if not understood:
            async for event in self.out.say(_("Sorry, I didn't quite get that. Let's pick up where we were:")):
                yield event
        async for event in self._next_step(greet=said.intent is Intent.GREETING and not flow.items):
            yield event

    async def _semantic_item(self, said: Understanding, text: str) -> Understanding:
        """A return asked for in words the phrase tables miss ("that big screen"): with Azure AI Search configured,
        a hybrid query over the customer's own returnable products names it."""
        search = catalog_search()
        if search is None:
            return said
        skus = list({view.line.sku: None for view in self.overview.lines if view.eligibility.eligible})
        try:
            matches = await sync_to_async(search.match, thread_sensitive=False)(text, skus, 1)
        except Exception:  # the search is a help, never a reason to fail the turn
            logger.exception("catalog search failed; carrying on without it")
            return said
        if not matches:
            return said
        return replace(said, items=(ItemMention(matches[0].sku, said.quantity),))

    async def _apply_slots(self, said: Understanding) -> AsyncIterator[ThreadStreamEvent]:
        flow = self.flow
        if said.order_id and not any(v.order.order_id == said.order_id for v in self.overview.lines):
            async for event in self.out.say(
                _("I couldn't find order %(order)s on your account.") % {"order": said.order_id}
            ):
                yield event
        elif said.order_id and said.order_id != flow.order_id:
            flow.reset()
            flow.order_id = said.order_id
        for mention in said.items:
            order_id = self._order_for(mention.sku, said.order_id or flow.order_id)
            if order_id is None:
                continue
            view = self.overview.line(order_id, mention.sku)
            assert view is not None
            quantity = view.line.returnable_quantity if mention.all_units else (mention.quantity or said.quantity or 1)
            if said.all_units and len(said.items) == 1:
                quantity = view.line.returnable_quantity
            async for event in self._choose_item(order_id, mention.sku, quantity, then_next=False):
                yield event
        if said.quantity and not said.items and len(flow.items) == 1:
            self._set_quantity(flow.items[0].sku, said.quantity)
        if said.reason and said.reason_guessed:
            if flow.reason is None:
                flow.suggested_reason = said.reason  # a guess is offered, never used unasked
        elif said.reason:
            flow.choose_reason(said.reason)
        if said.resolution:
            flow.resolution = said.resolution
        if said.shipping:
            flow.shipping = said.shipping

    def _order_for(self, sku: str, preferred: str | None) -> str | None:
        """The order an item mention refers to: the one in play, else the newest order where it is returnable."""
        candidates = [v for v in self.overview.lines if v.line.sku == sku]
        for view in candidates:
            if view.order.order_id == preferred:
                return preferred
        eligible = [v for v in candidates if v.eligibility.eligible]
        chosen = (eligible or candidates or [None])[0]
        return chosen.order.order_id if chosen else None

    # --- steps ----------------------------------------------------------------------------------
    async def _choose_item(
        self, order_id: str, sku: str, quantity: int | None, then_next: bool = True
    ) -> AsyncIterator[ThreadStreamEvent]:
        view = self.overview.line(order_id, sku)
        if view is None:
            async for event in self.out.say(_("I couldn't find that item on your orders.")):
                yield event
            return
        if not view.eligibility.eligible:
            why = widgets.eligibility_text(view)
            sorry = _("Sorry, %(name)s can't be returned: %(why)s") % {"name": view.line.name, "why": why}
            async for event in self.out.say(sorry):
                yield event
            return
        wanted = max(1, min(quantity or 1, view.line.returnable_quantity))
        self.flow.choose_item(order_id, sku, wanted)
        if then_next:
            async for event in self._next_step():
                yield event

    def _set_quantity(self, sku: str, quantity: object) -> None:
        for item in self.flow.items:
            view = self.overview.line(self.flow.order_id or "", item.sku)
            if item.sku == sku and view is not None and isinstance(quantity, int) and not isinstance(quantity, bool):
                item.quantity = max(1, min(quantity, view.line.returnable_quantity))
                self.flow.proposal_id = None

    def _clear_step(self, step: str) -> None:
        flow = self.flow
        if step == "items":
            flow.items = []
        elif step == "reason":
            flow.reason = None
        elif step == "resolution":
            flow.resolution = None
        elif step == "shipping":
            flow.shipping = None
        flow.proposal_id = None

    def _item_names(self) -> str:
        names = []
        for item in self.flow.items:
            view = self.overview.line(self.flow.order_id or "", item.sku)
            name = view.line.name if view else item.sku
            names.append(f"{item.quantity} × {name}" if item.quantity > 1 else _("the %(name)s") % {"name": name})
        return _(" and ").join(names)

    def _selections(self) -> list[Selection]:
        return [Selection(item.sku, item.quantity) for item in self.flow.items]

    def _quote(self, resolution: Resolution, shipping: Shipping | None) -> RefundQuote:
        """The exact quote for the items and reason chosen so far, with this resolution and shipping."""
        flow = self.flow
        assert flow.reason is not None  # asked for before any quote is shown
        quote = assess(
            self.overview, flow.order_id or "", self._selections(), flow.reason, resolution, shipping, self.policy
        ).quote
        assert quote is not None  # a resolution was given
        return quote

    async def _next_step(self, greet: bool = False) -> AsyncIterator[ThreadStreamEvent]:
        flow, out = self.flow, self.out
        customer = self.overview.customer
        if not flow.items:
            yield out.progress(_("Checking eligibility…"))
            if greet or not self.thread.metadata.get("greeted"):
                self.thread.metadata["greeted"] = True
                async for event in out.say(
                    _("Hi %(name)s! Here are the items on your orders.") % {"name": customer.name.split()[0]}
                ):
                    yield event
                yield out.widget(widgets.customer_card(self.overview), f"{customer.name} ({customer.tier})")
            else:
                async for event in out.say(_("Which item would you like to return?")):
                    yield event
            yield out.widget(widgets.returnable_items(self.overview, flow.order_id), "Returnable items")
            return
        if flow.reason is None:
            asked = (
                _("Got it: %(items)s. It sounds like “%(reason)s”: is that right? Tap it to confirm, or pick another.")
                % {"items": self._item_names(), "reason": widgets.choice_name(flow.suggested_reason)}
                if flow.suggested_reason
                else _("Got it: %(items)s. What's the reason for the return?") % {"items": self._item_names()}
            )
            async for event in out.say(asked):
                yield event
            yield out.widget(widgets.reason_options(self._item_names(), flow.suggested_reason), "Reasons")
            return
        if flow.resolution is None:
            yield out.progress(_("Working out your options…"))
            quotes = [self._quote(resolution, flow.shipping) for resolution in Resolution]
            async for event in out.say(
                _("Thanks. Here's what you can get for %(items)s:") % {"items": self._item_names()}
            ):
                yield event
            yield out.widget(widgets.resolution_options(quotes), "Resolution options")
            return
        if flow.needs_shipping and flow.shipping is None:
            costs = {option: self._quote(flow.resolution, option).shipping_cost_cents for option in Shipping}
            async for event in out.say(
                _("%(resolution)s it is. How would you like to send it back?")
                % {"resolution": widgets.choice_name(flow.resolution)}
            ):
                yield event
            yield out.widget(widgets.shipping_options(costs), "Shipping options")
            return
        async for event in self._summary():
            yield event

    async def _summary(self) -> AsyncIterator[ThreadStreamEvent]:
        flow = self.flow
        try:
            assessment = assess(
                self.overview,
                flow.order_id or "",
                self._selections(),
                flow.reason,
                flow.resolution,
                flow.shipping,
                self.policy,
            )
        except ReturnsError as error:
            flow.items = []
            async for event in self.out.say(_("Sorry: %(why)s") % {"why": error.message}):
                yield event
            return
        assert flow.reason is not None
        async for event in self.out.say(_("Here's your return. Please check it and confirm.")):
            yield event
        yield self.out.widget(summary_card(assessment, flow.reason, flow.shipping), "Return summary")

    async def _ask_what_to_change(self) -> AsyncIterator[ThreadStreamEvent]:
        options = [
            (_("Item"), Actions.CHANGE_STEP, {"step": "items"}),
            (_("Reason"), Actions.CHANGE_STEP, {"step": "reason"}),
            (_("Resolution"), Actions.CHANGE_STEP, {"step": "resolution"}),
        ]
        if self.flow.needs_shipping:
            options.append((_("Shipping"), Actions.CHANGE_STEP, {"step": "shipping"}))
        yield self.out.widget(widgets.choices(_("What would you like to change?"), options), "Change")

    async def _confirm(self) -> AsyncIterator[ThreadStreamEvent]:
        flow = self.flow
        if not flow.complete or flow.reason is None or flow.resolution is None or flow.order_id is None:
            async for event in self._next_step():
                yield event
            return
        yield self.out.progress(_("Sending your return for review…"))
        request = ProposalRequest(
            thread_id=self.thread.id,
            submission_key=flow.submission_key(),
            order_id=flow.order_id,
            selections=tuple(self._selections()),
            reason=flow.reason,
            resolution=flow.resolution,
            shipping=flow.shipping,
        )
        if not self.overview.fresh:  # a confirmation typed in words: assess the proposal on what is true now
            self.overview = await customer_overview(
                await loop_repository(), self.context.customer_id, self.policy, store_today()
            )
        try:
            proposal = await file_proposal(
                self.overview, request, self.policy, assistant_mode=self.conversation.mode == ConversationMode.ASSISTANT
            )
        except ReturnsError as error:
            async for event in self.out.say(_("Sorry, I can't submit this return: %(why)s") % {"why": error.message}):
                yield event
            return
        flow.proposal_id = proposal.pk
        if proposal.state != ProposalState.PROPOSED:
            async for event in self.out.say(_("Thanks! Your return is approved; I'm creating it now.")):
                yield event
            return  # the decision's own message and card follow as soon as it is committed
        async for event in self.out.say(
            _("Thanks! Your return is with our team for a quick review. You'll see the decision right here.")
        ):
            yield event
        amount = widgets.money(proposal.total_cents)
        yield self.out.widget(
            widgets.status_card(
                f"Return request #{proposal.pk}",
                "Waiting for review",
                "warning",
                [
                    ("Order", proposal.order_id),
                    ("Items", ", ".join(f"{line['quantity']} × {line['name']}" for line in proposal.lines)),
                    (str(flow.resolution), amount),
                ],
            ),
            f"Return request #{proposal.pk}: waiting for review",
        )

    async def _offer_way_back(self) -> AsyncIterator[ThreadStreamEvent]:
        """After a side question in the middle of a return, the way back to the step the customer was on."""
        if self.flow.items and not self.flow.proposal_id:
            yield self.out.widget(widgets.resume_card(self._item_names()), "Continue my return?")

    async def _ask_for_rating(self) -> AsyncIterator[ThreadStreamEvent]:
        """The end of a conversation: how did we do? Asked once; a conversation already rated is not asked again."""
        if not await ratings.was_rated(self.thread.id):
            yield self.out.widget(widgets.rating_card(), "How did we do? Rate us 1 to 5")

    async def _rate(self, rating: object) -> AsyncIterator[ThreadStreamEvent]:
        try:
            saved = await ratings.rate(self.thread.id, self.context.customer_id, rating)
        except ReturnsError as refused:
            async for event in self.out.say(refused.message):
                yield event
            return
        self.flow.rating_comment = True
        async for event in self.out.say(
            _("Thank you for rating us %(rating)s out of 5! If you'd like to tell us more, write it here.")
            % {"rating": saved.rating}
        ):
            yield event

    async def _rating_comment(self, text: str) -> AsyncIterator[ThreadStreamEvent]:
        await ratings.add_comment(self.thread.id, text)
        async for event in self.out.say(_("Thank you, I've passed that on to the team.")):
            yield event

    async def _answer_policy(self, question: str) -> AsyncIterator[ThreadStreamEvent]:
        """Answer from the policy search and name the policy, so the customer knows where it comes from."""
        yield self.out.progress(_("Checking our return policy…"))
        hits = policy_hits(question, self.policy)
        if not hits:
            async for event in self.out.say(
                _(
                    "I couldn't find a policy about that. I can tell you about return windows, fees, refunds, "
                    "store credit, exchanges and shipping, or start a return for you."
                )
            ):
                yield event
            return
        best = hits[0]
        async for event in self.out.say(
            _("From our “%(title)s” policy: %(text)s") % {"title": best.title, "text": best.body}
        ):
            yield event
        if len(hits) > 1:
            related = ", ".join(f"“{hit.title}”" for hit in hits[1:])
            async for event in self.out.say(_("Related: %(titles)s. Anything else?") % {"titles": related}):
                yield event

    async def _status(self) -> AsyncIterator[ThreadStreamEvent]:
        yield self.out.progress(_("Looking up your returns…"))
        tools = ReturnsTools(await loop_repository(), self.context.customer_id, self.policy)
        returns, pending = await tools.status_records()
        if not returns and not pending:
            async for event in self.out.say(_("You don't have any returns yet. Would you like to start one?")):
                yield event
            yield self.out.widget(widgets.choices(_("Start a return?"), menu()[:1]), "Start a return")
            return
        async for event in self.out.say(_("Here's where your returns are:")):
            yield event
        for card, copy_text in status_cards(returns, pending):
            yield self.out.widget(card, copy_text)


def status_cards(returns: list[ReturnRecord], pending: list[Proposal]) -> list[tuple[Any, str]]:
    """(card, copy text) for "Your returns": every request waiting for review and every return in the system of
    record, newest first, each with its items, the money coming back and tracking."""
    cards: list[tuple[Any, str]] = []
    for proposal in pending:
        name, colour = request_status(proposal.state)
        rows = [
            ("Order", proposal.order_id),
            ("Items", items_text([(line["quantity"], line["name"]) for line in proposal.lines])),
            money_back_row(
                int(proposal.quote.get("store_credit_cents", 0)),
                int(proposal.quote.get("refund_cents", 0)),
                (proposal.resolution, widgets.money(proposal.total_cents)),
            ),
        ]
        card = widgets.status_card(f"Return request #{proposal.pk}", name, colour, rows)
        cards.append((card, f"Return request #{proposal.pk}: {name.lower()}"))
    for record in sorted(returns, key=lambda r: r.created_at, reverse=True):
        name, colour = return_status(record.status)
        rows = [
            ("Order", record.order_id),
            ("Items", items_text([(line.quantity, line.name) for line in record.lines])),
            money_back_row(record.store_credit_cents, record.refund_cents, ("Resolution", str(record.resolution))),
        ]
        if record.tracking_number:
            rows.append(("Tracking", record.tracking_number))
        note = "" if record.status == ReturnStatus.CANCELLED else record.instructions
        card = widgets.status_card(
            f"Return {record.return_id}", name, colour, rows, note=note, link=widgets.label_link(record)
        )
        cards.append((card, f"Return {record.return_id}: {name.lower()}"))
    return cards


def summary_card(assessment: Assessment, reason: Reason, shipping: Shipping | None) -> Any:
    """The summary the customer confirms, from a return the rules have checked and priced."""
    assert assessment.quote is not None
    items = [
        widgets.SummaryLine(
            view.line.sku, view.line.name, qty, view.line.unit_price_cents, view.line.returnable_quantity
        )
        for view, qty in assessment.lines
    ]
    return widgets.summary(assessment.order.order_id, items, reason, shipping, assessment.quote)


# What a comment after a rating is understood as: words about us, not a request.
COMMENT_INTENTS = frozenset({Intent.UNKNOWN, Intent.THANKS, Intent.YES, Intent.NO, Intent.GREETING, Intent.HELP})


def _has_slots(said: Understanding) -> bool:
    return bool(said.items or said.order_id or said.reason or said.resolution or said.shipping or said.quantity)
