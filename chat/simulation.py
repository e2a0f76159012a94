"""Simulated customers: scripted conversations run in-process against the chat, checked against the rules.

Why: a change to understanding, widgets, the tool catalogue or the LLM engine's prompt shows up here as a customer
who no longer gets their return, before a real one notices. The same scenario files run on the guided engine and
on the LLM engine (a real model, or ``PolicyModel``, a deterministic stand-in that needs no network).

A scenario (``chat/simulations/<name>.json``) says who signs in, what they say or click each turn, how many turns
they allow, what must be filed (the proposal's fields and amounts, or ``null`` for nothing) and which widgets and
words they must or must not see::

    {"name": "...", "description": "...",
     "customer": {"email": "rjohnson@company.com", "order_id": "ORD-79001"},
     "mode": "typed" | "clicked",            # how answers are given when a card offers the choice
     "max_turns": 6,
     "turns": [
        {"say": "I want to return the hub", "widgets": ["items"], "text": ["..."]},
        {"answer": "summary"},               # answer what the assistant asks (from "answers") until the summary
        {"click": "confirm", "payload": {}}, # press a button shown earlier (action without "returns.")
        {"say": "agent please", "answered_by": "guided"}  # typed, but answered by the rules on every engine
     ],
     "answers": {"item": {"say": "...", "click": {"sku": "HUB-SMART-2"}}, "reason": {...},
                 "resolution": {...}, "shipping": {...}},
     "expect": {"proposal": {"order_id": "...", "items": {"SKU": 1}, "reason": "...", "resolution": "...",
                             "shipping": "..." | null, "amounts": {"refund_cents": 0, ...}} | null,
                "widgets": [...], "never_widgets": [...], "text": [...], "never_text": [...]}}

Turns talk to ``/chat/session`` and ``/chatkit`` through Django's async test client, so they take the customer's
path (session, ChatKit protocol, SSE). Nothing here approves anything: every filed proposal must still be waiting
for review, belong to the signed-in customer and carry exactly the rules' amounts, whatever the scenario says.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

from agents.items import TResponseOutputItem
from agents.testing.model import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call
from asgiref.sync import SyncToAsync
from chatkit.actions import Action
from chatkit.types import (
    ErrorEvent,
    InferenceOptions,
    ThreadAddUserMessageParams,
    ThreadCreatedEvent,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadItemDoneEvent,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageTextContent,
    WidgetItem,
)
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import AsyncClient
from django.test.utils import override_settings
from pydantic import BaseModel, TypeAdapter

from chat.engine.llm import engine as llm_engine
from chat.engine.llm.clients import model_config
from chat.engine.understanding import CatalogItem, Intent, Understanding, understand
from chat.models import AssistantTurn
from chat.widgets import Actions, money
from customers.clock import store_today
from customers.cosmos.client import CosmosConfig
from customers.cosmos.repository import CosmosRepository, open_repository
from customers.demo import build_demo_data, seed_demo_data
from customers.domain import Reason, Resolution, Shipping, Tier
from customers.models import Proposal, ProposalState
from customers.selectors.policy import aactive_policy
from customers.services.quote import MONEY_FIELDS, QuoteLine, refund_quote
from customers.signals import proposal_changed

SCENARIO_DIR = Path(__file__).resolve().parent / "simulations"
SLOTS = ("item", "reason", "resolution", "shipping")
ACTION_PREFIX = Actions.CONFIRM.split(".")[0] + "."  # scenario files name actions without it
EVENTS: TypeAdapter[Any] = TypeAdapter(ThreadStreamEvent)


class ScenarioError(ValueError):
    """A scenario file that cannot be run as written."""


# --- scenarios --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    say: str | None = None
    click: str | None = None  # the full action type, e.g. returns.confirm
    payload: dict[str, Any] = field(default_factory=dict)
    answer: str | None = None  # "summary": answer the assistant's questions until the summary card shows
    widgets: tuple[str, ...] = ()  # shown in this turn (the last one, for an answer step)
    text: tuple[str, ...] = ()  # said in this turn
    by_guided: bool = False  # "answered_by": "guided": a typed turn the rules answer on every engine (a plain
    # request for a person is handed over without the model, so it never promises an agent)


@dataclass(frozen=True)
class Answer:
    say: str
    click: dict[str, Any] | None = None  # the payload of the button to press when a card offers it


@dataclass(frozen=True)
class ExpectedProposal:
    order_id: str
    items: dict[str, int]
    reason: str
    resolution: str
    shipping: str | None
    amounts: dict[str, int]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    email: str
    order_id: str
    mode: str
    max_turns: int
    steps: tuple[Step, ...]
    answers: dict[str, Answer]
    proposal: ExpectedProposal | None
    widgets: tuple[str, ...] = ()
    never_widgets: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    never_text: tuple[str, ...] = ()


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where} must be a list of strings")
    return tuple(value)


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict) or sum(key in raw for key in ("say", "click", "answer")) != 1:
        raise ScenarioError(f"{where} needs exactly one of say, click, answer")
    unknown = set(raw) - {"say", "click", "payload", "answer", "widgets", "text", "answered_by"}
    if unknown:
        raise ScenarioError(f"{where} has unknown keys {sorted(unknown)}")
    if raw.get("answered_by", "guided") != "guided" or ("answered_by" in raw and "say" not in raw):
        raise ScenarioError(f'{where}: "answered_by" can only be "guided", on a say step')
    if "answer" in raw and raw["answer"] != "summary":
        raise ScenarioError(f'{where}: the only answer step is "summary"')
    click = raw.get("click")
    return Step(
        say=raw.get("say"),
        click=(click if click.startswith(ACTION_PREFIX) else ACTION_PREFIX + click) if click else None,
        payload=dict(raw.get("payload") or {}),
        answer=raw.get("answer"),
        widgets=_strings(raw.get("widgets", []), f"{where}.widgets"),
        text=_strings(raw.get("text", []), f"{where}.text"),
        by_guided="answered_by" in raw,
    )


def _expected_proposal(raw: Any, where: str) -> ExpectedProposal | None:
    if raw is None:
        return None
    try:
        for label, kind in (("reason", Reason), ("resolution", Resolution)):
            kind(raw[label])
        if raw["shipping"] is not None:
            Shipping(raw["shipping"])
        items = {str(sku): int(quantity) for sku, quantity in raw["items"].items()}
        amounts = {str(key): int(value) for key, value in raw.get("amounts", {}).items()}
        return ExpectedProposal(raw["order_id"], items, raw["reason"], raw["resolution"], raw["shipping"], amounts)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ScenarioError(f"{where}.proposal is not a proposal: {error!r}") from None


def parse_scenario(raw: Any, source: str = "scenario") -> Scenario:
    """A scenario from its JSON form; every mistake in the file is named, so a typo never passes silently."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario is a JSON object")
    try:
        name, customer, turns = raw["name"], raw["customer"], raw["turns"]
        expect = raw["expect"]
        max_turns = int(raw["max_turns"])
    except (KeyError, TypeError, ValueError) as error:
        raise ScenarioError(f"{source}: missing or invalid {error}") from None
    mode = raw.get("mode", "typed")
    if mode not in ("typed", "clicked"):
        raise ScenarioError(f'{source}: mode is "typed" or "clicked"')
    if not isinstance(turns, list) or not turns:
        raise ScenarioError(f"{source}: turns must be a non-empty list")
    answers = {}
    for slot, answer in (raw.get("answers") or {}).items():
        if slot not in SLOTS or not isinstance(answer, dict) or not isinstance(answer.get("say"), str):
            raise ScenarioError(f"{source}: answers.{slot} must be one of {SLOTS} with a say")
        answers[slot] = Answer(answer["say"], answer.get("click"))
    if not isinstance(expect, dict) or "proposal" not in expect:
        raise ScenarioError(f'{source}: expect must say "proposal" (an object, or null when nothing is filed)')
    return Scenario(
        name=str(name),
        description=str(raw.get("description", "")),
        email=str(customer["email"]),
        order_id=str(customer["order_id"]),
        mode=mode,
        max_turns=max_turns,
        steps=tuple(_step(step, f"{source}: turns[{index}]") for index, step in enumerate(turns)),
        answers=answers,
        proposal=_expected_proposal(expect["proposal"], f"{source}: expect"),
        widgets=_strings(expect.get("widgets", []), f"{source}: expect.widgets"),
        never_widgets=_strings(expect.get("never_widgets", []), f"{source}: expect.never_widgets"),
        text=_strings(expect.get("text", []), f"{source}: expect.text"),
        never_text=_strings(expect.get("never_text", []), f"{source}: expect.never_text"),
    )


def load_scenarios(directory: Path = SCENARIO_DIR, names: Sequence[str] = ()) -> list[Scenario]:
    """Every scenario in ``directory`` (sorted by name), or just ``names``; an unknown name is an error."""
    scenarios = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text())
        except ValueError as error:
            raise ScenarioError(f"{path.name}: not JSON ({error})") from None
        scenarios.append(parse_scenario(raw, path.name))
    seen: set[str] = set()
    for scenario in scenarios:
        if scenario.name in seen:
            raise ScenarioError(f"two scenarios are called {scenario.name}")
        seen.add(scenario.name)
    if names:
        missing = sorted(set(names) - seen)
        if missing:
            raise ScenarioError(f"no scenario called {', '.join(missing)} in {directory}")
        scenarios = [scenario for scenario in scenarios if scenario.name in names]
    return scenarios


# --- a customer talking to /chatkit ----------------------------------------------------------------------------
@dataclass
class Turn:
    """What one request showed the customer."""

    said: str
    events: list[Any]

    @property
    def done(self) -> list[Any]:
        return [event.item for event in self.events if isinstance(event, ThreadItemDoneEvent)]

    @property
    def widgets(self) -> list[WidgetItem]:
        return [item for item in self.done if isinstance(item, WidgetItem)]

    @property
    def widget_keys(self) -> list[str]:
        return [item.widget.key or "" for item in self.widgets]

    @property
    def messages(self) -> list[str]:
        return ["".join(part.text for part in item.content) for item in self.done if item.type == "assistant_message"]

    @property
    def received(self) -> str:
        """Everything the customer can read from this turn: messages and the text copied from each card."""
        return " ".join([*self.messages, *(item.copy_text or "" for item in self.widgets)])

    @property
    def errors(self) -> list[str]:
        return [event.message or event.code for event in self.events if isinstance(event, ErrorEvent)]


def _buttons(widget: WidgetItem) -> list[tuple[str, dict[str, Any]]]:
    """(action type, payload) of every button in a card."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(node: Any) -> None:
        action = getattr(node, "onClickAction", None)
        if getattr(node, "type", None) == "Button" and action is not None:
            found.append((action.type, dict(action.payload or {})))
        for child in getattr(node, "children", None) or []:
            walk(child)

    walk(widget.widget)
    return found


class SimulatedCustomer:
    """One signed-in customer with their own session cookie and thread."""

    def __init__(self, client: AsyncClient, customer_id: str) -> None:
        self.client = client
        self.customer_id = customer_id
        self.thread_id: str | None = None
        self.turns: list[Turn] = []

    @classmethod
    async def sign_in(cls, email: str, order_id: str) -> SimulatedCustomer:
        client = AsyncClient()
        response = await client.post(
            "/chat/session", data={"email": email, "order_id": order_id}, content_type="application/json"
        )
        if response.status_code != 200:
            raise ScenarioError(
                f"sign-in as {email} / {order_id} answered {response.status_code}: {response.content!r}"
            )
        return cls(client, response.json()["customer_id"])

    async def _stream(self, request: BaseModel, said: str) -> Turn:
        response = await self.client.post(
            "/chatkit", data=request.model_dump_json(exclude_none=True), content_type="application/json"
        )
        if response.status_code != 200 or response["Content-Type"] != "text/event-stream":
            raise ScenarioError(f"{said!r} answered {response.status_code}: {response.content[:300]!r}")
        raw = b"".join([chunk async for chunk in response.streaming_content])
        events = []
        for block in raw.decode().split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
            if data:
                events.append(EVENTS.validate_python(json.loads(data)))
        for event in events:
            if isinstance(event, ThreadCreatedEvent):
                self.thread_id = event.thread.id
        turn = Turn(said, events)
        self.turns.append(turn)
        return turn

    async def say(self, text: str) -> Turn:
        content = UserMessageInput(
            content=[UserMessageTextContent(text=text)], attachments=[], inference_options=InferenceOptions()
        )
        if self.thread_id is None:
            request: BaseModel = ThreadsCreateReq(params=ThreadCreateParams(input=content))
        else:
            request = ThreadsAddUserMessageReq(
                params=ThreadAddUserMessageParams(thread_id=self.thread_id, input=content)
            )
        return await self._stream(request, f"say {text!r}")

    def button(self, action_type: str, payload: dict[str, Any], turns: Sequence[Turn] | None = None) -> WidgetItem:
        """The newest card with a button for this action whose payload includes ``payload``."""
        for turn in reversed(self.turns if turns is None else turns):
            for widget in reversed(turn.widgets):
                for kind, offered in _buttons(widget):
                    if kind == action_type and all(offered.get(k) == v for k, v in payload.items()):
                        return widget
        wanted = action_type.removeprefix(ACTION_PREFIX) + (f" {payload}" if payload else "")
        raise ScenarioError(f"no {wanted} button on screen")

    async def click(self, action_type: str, payload: dict[str, Any]) -> Turn:
        widget = self.button(action_type, payload)
        full = next(
            offered
            for kind, offered in _buttons(widget)
            if kind == action_type and all(offered.get(k) == v for k, v in payload.items())
        )
        assert self.thread_id is not None
        request = ThreadsCustomActionReq(
            params=ThreadCustomActionParams(
                thread_id=self.thread_id, item_id=widget.id, action=Action(type=action_type, payload=full)
            )
        )
        return await self._stream(request, f"click {action_type.removeprefix(ACTION_PREFIX)}")

    @property
    def received(self) -> str:
        return " ".join(turn.received for turn in self.turns)

    @property
    def widget_keys(self) -> list[str]:
        return [key for turn in self.turns for key in turn.widget_keys]


# --- answering the assistant -------------------------------------------------------------------------------------
WIDGET_ASKS = {"items": "item", "reasons": "reason", "resolutions": "resolution", "shipping": "shipping"}
CARD_ACTIONS = {
    "item": Actions.SELECT_ITEM,
    "reason": Actions.SELECT_REASON,
    "resolution": Actions.SELECT_RESOLUTION,
    "shipping": Actions.SELECT_SHIPPING,
}
# What a question is about, from its words, when no card asks it (the LLM engine asks in words). Checked in order.
TEXT_ASKS = (
    ("shipping", ("send it back", "send them back", "shipping", "label", "pickup", "pick-up", "drop-off", "drop off")),
    ("resolution", ("refund", "store credit", "exchange", "resolved", "resolution", "would you like back")),
    ("reason", ("reason", "why", "what happened", "what went wrong")),
    ("item", ("which item", "which product", "what would you like to return")),
)


def asked(turn: Turn) -> str | None:
    """The slot the assistant asked for in this turn: from the newest card, else from its last message."""
    for key in reversed(turn.widget_keys):
        if key in WIDGET_ASKS:
            return WIDGET_ASKS[key]
    last = turn.messages[-1].casefold() if turn.messages else ""
    for slot, words in TEXT_ASKS:
        if any(word in last for word in words):
            return slot
    return None


# --- results ---------------------------------------------------------------------------------------------------
@dataclass
class Result:
    scenario: str
    engine: str
    turns: int
    max_turns: int
    passed: bool
    reason: str = ""
    seconds: float = 0.0
    thread_id: str | None = None


class Failed(Exception):
    """The first expectation a scenario missed; its message is the table's reason column."""


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold().replace("’", "'") in haystack.casefold().replace("’", "'")


def _check_turn(step: Step, turn: Turn, number: int) -> None:
    if turn.errors:
        raise Failed(f"turn {number} ({turn.said}): error {turn.errors[0]!r}")
    missing = [key for key in step.widgets if key not in turn.widget_keys]
    if missing:
        raise Failed(f"turn {number} ({turn.said}): expected widgets {missing}, got {turn.widget_keys}")
    for text in step.text:
        if not _contains(turn.received, text):
            raise Failed(f"turn {number} ({turn.said}): expected {text!r} in {turn.received[:160]!r}")


class _Run:
    """One scenario on one engine."""

    def __init__(self, scenario: Scenario, engine: str) -> None:
        self.scenario = scenario
        self.engine = engine
        self.customer: SimulatedCustomer | None = None
        self.decisions: list[str] = []
        self.guided_turns: set[int] = set()  # numbers of typed turns the rules answer on every engine

    @property
    def used(self) -> int:
        return len(self.customer.turns) if self.customer else 0

    def _budget(self) -> None:
        if self.used >= self.scenario.max_turns:
            raise Failed(f"turn limit: {self.scenario.max_turns} turns used before the scenario was done")

    async def run(self) -> None:
        scenario = self.scenario
        self.customer = await SimulatedCustomer.sign_in(scenario.email, scenario.order_id)
        for step in scenario.steps:
            if step.answer:
                turn = await self._answer_until_summary()
            else:
                self._budget()
                try:
                    if step.say is not None:
                        turn = await self.customer.say(step.say)
                        if step.by_guided:
                            self.guided_turns.add(self.used)
                    else:
                        assert step.click is not None
                        turn = await self.customer.click(step.click, step.payload)
                except ScenarioError as error:
                    raise Failed(f"turn {self.used + 1}: {error}") from None
            _check_turn(step, turn, self.used)
        await self._check_outcome()

    async def _answer_until_summary(self) -> Turn:
        customer = self.customer
        assert customer is not None
        given: set[str] = set()
        while True:
            last = customer.turns[-1] if customer.turns else None
            if last is not None and "summary" in last.widget_keys:
                return last
            if last is not None and last.errors:
                raise Failed(f"turn {self.used} ({last.said}): error {last.errors[0]!r}")
            self._budget()
            slot = asked(last) if last is not None else None
            if slot is None:  # nothing asked in words we know: volunteer what the customer has not said yet
                slot = next((s for s in SLOTS if s in self.scenario.answers and s not in given), None)
            if slot is None or slot not in self.scenario.answers:
                said = last.received[:160] if last else ""
                raise Failed(f"turn {self.used}: no summary card, and nothing left to answer ({said!r})")
            given.add(slot)
            answer = self.scenario.answers[slot]
            if self.scenario.mode == "clicked" and answer.click is not None and last is not None:
                try:
                    customer.button(CARD_ACTIONS[slot], answer.click, [last])
                except ScenarioError:
                    pass  # no card offers it (the LLM engine asks in words): type it instead
                else:
                    await customer.click(CARD_ACTIONS[slot], answer.click)
                    continue
            await customer.say(answer.say)

    async def _check_outcome(self) -> None:
        scenario, customer = self.scenario, self.customer
        assert customer is not None
        if self.decisions:
            raise Failed(f"something decided a proposal during the run: {self.decisions[0]}")
        await self._check_engine()
        filed = [p async for p in Proposal.objects.filter(thread_id=customer.thread_id).order_by("pk")]
        for proposal in filed:
            await _check_proposal_is_safe(proposal, customer.customer_id)
        expected = scenario.proposal
        if expected is None and filed:
            raise Failed(f"expected no proposal, got #{filed[0].pk} ({_describe(filed[0])})")
        if expected is not None:
            if len(filed) != 1:
                raise Failed(f"expected one proposal, got {len(filed)}")
            _compare(filed[0], expected)
        shown = customer.widget_keys
        missing = [key for key in scenario.widgets if key not in shown]
        if missing:
            raise Failed(f"never showed {missing} (showed {sorted(set(shown))})")
        unwanted = [key for key in scenario.never_widgets if key in shown]
        if unwanted:
            raise Failed(f"showed {unwanted}")
        received = customer.received
        for text in scenario.text:
            if not _contains(received, text):
                raise Failed(f"never said {text!r}")
        for text in scenario.never_text:
            if _contains(received, text):
                raise Failed(f"said {text!r}")

    async def _check_engine(self) -> None:
        """Typed turns were answered by the engine under test (the model never fell back); clicks by the guided
        engine, as on both engines."""
        customer = self.customer
        assert customer is not None
        engines: dict[str, tuple[str, str]] = {}
        async for record in AssistantTurn.objects.filter(thread_id=customer.thread_id):
            for item_id in record.item_ids:
                engines[item_id] = (record.engine, record.fallback)
        for number, turn in enumerate(customer.turns, start=1):
            for item in turn.done:
                if item.type not in ("assistant_message", "widget"):
                    continue
                engine, fallback = engines.get(item.id, ("", ""))
                if fallback:
                    raise Failed(f"turn {number} ({turn.said}): the guided engine answered instead: {fallback}")
                typed = turn.said.startswith("say") and number not in self.guided_turns
                wanted = self.engine.split(" ")[0] if typed else "guided"
                if not engine.startswith(wanted.removesuffix(":")):
                    raise Failed(f"turn {number} ({turn.said}): answered by {engine or 'nobody on record'}")


def _describe(proposal: Proposal) -> str:
    items = ", ".join(f"{line['quantity']} x {line['sku']}" for line in proposal.lines)
    return f"{proposal.order_id}: {items}; {proposal.reason}; {proposal.resolution}; {money(proposal.total_cents)}"


async def _check_proposal_is_safe(proposal: Proposal, customer_id: str) -> None:
    """What holds for every proposal whatever the scenario: the customer's own, waiting, priced by the rules."""
    if proposal.customer_id != customer_id:
        raise Failed(f"proposal #{proposal.pk} is for {proposal.customer_id}, not the signed-in {customer_id}")
    if proposal.state != ProposalState.PROPOSED:
        raise Failed(f"proposal #{proposal.pk} is {proposal.state}: nothing should decide it here")
    rules = rules_quote(proposal, await aactive_policy())
    for key in MONEY_FIELDS:
        if proposal.quote.get(key) != rules.get(key):
            raise Failed(f"proposal #{proposal.pk} {key} is {proposal.quote.get(key)}, the rules say {rules.get(key)}")


def rules_quote(proposal: Proposal, policy: Any) -> dict[str, Any]:
    """The quote the rules give for a proposal's lines and choices, to hold its stored figures against."""
    lines = [
        QuoteLine(line["sku"], line["name"], line["quantity"], line["unit_price_cents"]) for line in proposal.lines
    ]
    shipping = Shipping(proposal.shipping) if proposal.shipping else None
    quote = refund_quote(
        lines,
        Reason(proposal.reason),
        Resolution(proposal.resolution),
        shipping,
        Tier(proposal.customer_tier),
        policy,
    )
    return quote.to_dict()


def _compare(proposal: Proposal, expected: ExpectedProposal) -> None:
    got = {line["sku"]: line["quantity"] for line in proposal.lines}
    differences = []
    if proposal.order_id != expected.order_id:
        differences.append(f"order {proposal.order_id} (expected {expected.order_id})")
    if got != expected.items:
        differences.append(f"items {got} (expected {expected.items})")
    for label, value, wanted in (
        ("reason", proposal.reason, expected.reason),
        ("resolution", proposal.resolution, expected.resolution),
        ("shipping", proposal.shipping or None, expected.shipping),
    ):
        if value != wanted:
            differences.append(f"{label} {value!r} (expected {wanted!r})")
    quote = {**proposal.quote, "total_cents": proposal.total_cents}
    for key, wanted in expected.amounts.items():
        if quote.get(key) != wanted:
            differences.append(f"{key} {quote.get(key)} (expected {wanted})")
    if differences:
        raise Failed(f"proposal #{proposal.pk}: " + "; ".join(differences))


async def _set_aside(thread_id: str) -> None:
    """A scenario's requests still waiting are rejected, as staff would, in the run's throwaway database: each
    scenario's customer starts as the demo does, with nothing waiting (a customer may hold only
    OVERLAPPING_REQUESTS_ALLOWED + 1 open requests for the same units, and scenarios share the demo customers)."""
    await Proposal.objects.filter(thread_id=thread_id, state=ProposalState.PROPOSED).aupdate(
        state=ProposalState.REJECTED
    )


async def run_scenario(scenario: Scenario, engine: str) -> Result:
    """Run one scenario and say whether it passed and, if not, the first thing that went wrong."""
    run = _Run(scenario, engine)

    def decided(sender: Any, proposal: Proposal, action: str, **_: Any) -> None:
        if proposal.state != ProposalState.PROPOSED:  # announcements that leave it waiting (overlaps) are fine
            run.decisions.append(f"#{proposal.pk} {action} ({proposal.state})")

    proposal_changed.connect(decided, weak=False, dispatch_uid=f"simulation-{id(run)}")
    started = time.monotonic()
    try:
        await run.run()
    except Exception as failure:  # one scenario's crash is its row in the table, not the end of the run
        reason = str(failure) if isinstance(failure, (Failed, ScenarioError)) else f"crashed: {failure!r}"
        thread = run.customer.thread_id if run.customer else None
        return Result(
            scenario.name, engine, run.used, scenario.max_turns, False, reason, time.monotonic() - started, thread
        )
    finally:
        proposal_changed.disconnect(dispatch_uid=f"simulation-{id(run)}")
        if run.customer and run.customer.thread_id:
            await _set_aside(run.customer.thread_id)
    thread = run.customer.thread_id if run.customer else None
    return Result(scenario.name, engine, run.used, scenario.max_turns, True, "", time.monotonic() - started, thread)


# --- where it runs ---------------------------------------------------------------------------------------------
@asynccontextmanager
async def simulation_cosmos() -> AsyncIterator[CosmosRepository]:
    """A Cosmos database of its own (``sim-<random>`` in the configured account) with the demo data, deleted after:
    the scenarios never read or write real customers' data, and always start from the same demo."""
    name = f"sim-{uuid.uuid4().hex[:12]}"
    config = replace(CosmosConfig.from_settings(), database=name)
    async with open_repository(config) as repo:
        try:
            with override_settings(COSMOS_DATABASE=name):
                await seed_demo_data(repo, build_demo_data(store_today()))
                yield repo
        finally:
            await repo.client.delete_database(name)


@contextmanager
def engine_settings(engine: str, scripted: bool) -> Iterator[str]:
    """Settings for the engine under test; the label shown in the table. ``scripted`` puts ``PolicyModel``
    where the configured model would be (the engine has no hook for another model, so it is patched in)."""
    if engine not in ("guided", "llm"):
        raise ScenarioError(f"engine is guided or llm, not {engine!r}")
    overrides: dict[str, Any] = {
        "ASSISTANT_ENGINE": engine,
        # Django's test client calls itself "testserver".
        "ALLOWED_HOSTS": [*settings.ALLOWED_HOSTS, "testserver"],
    }
    with ExitStack() as stack:
        label = engine
        if engine == "llm":
            if scripted:
                if model_config() is None:
                    overrides["OPENAI_API_KEY"] = "scripted-model"
                model = PolicyModel()
                stack.enter_context(mock.patch.object(llm_engine, "shared_model", lambda config: model))
                label = "llm (scripted)"
            else:
                config = model_config()
                if config is None:
                    raise ScenarioError(
                        "the llm engine needs a model (AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT, or "
                        "OPENAI_API_KEY), or --scripted-model"
                    )
                label = config.label
            # A breaker of its own: failures of an earlier run must not send these turns to the guided engine.
            stack.enter_context(mock.patch.object(llm_engine, "BREAKER", llm_engine.CircuitBreaker()))
        elif scripted:
            raise ScenarioError("--scripted-model stands in for the language model: use it with --engine llm")
        stack.enter_context(override_settings(**overrides))
        yield label


async def run_scenarios(scenarios: Sequence[Scenario], engine: str, scripted: bool = False) -> list[Result]:
    """Every scenario on ``engine``, one after the other, on a freshly seeded Cosmos database of its own."""
    with engine_settings(engine, scripted) as label:
        return await run_on_demo_data(scenarios, label)


async def run_on_demo_data(scenarios: Sequence[Scenario], label: str) -> list[Result]:
    """Every scenario on the engine already set up (``engine_settings``), on a fresh copy of the demo data."""
    async with simulation_cosmos():
        return [await run_scenario(scenario, label) for scenario in scenarios]


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The run's Django-side writes (sessions, conversations, proposals, turns) go to a database made for it and
    dropped after: in-memory SQLite, or ``sim_<random>`` on the configured server (which needs CREATEDB). Migrated
    fresh, so the policy in force is the default one the scenarios' amounts are written for."""
    connection = connections[DEFAULT_DB_ALIAS]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    saved = dict(test_settings)
    test_settings["NAME"] = None if connection.vendor == "sqlite" else f"sim_{uuid.uuid4().hex[:12]}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield connection.settings_dict["NAME"]
    finally:
        # The async ORM's thread has its own connection; a server refuses to drop a database still in use.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        test_settings.clear()
        test_settings.update(saved)


@contextmanager
def contained() -> Iterator[None]:
    """Nothing of the run reaches staff or workers: live events stay in an in-process channel layer, and a task,
    were one sent (nothing in these flows approves), would wait on a queue of its own that no worker reads."""
    from celery import current_app

    conf = current_app.conf
    saved = conf.task_default_queue, conf.task_always_eager
    conf.task_default_queue, conf.task_always_eager = f"sim-{uuid.uuid4().hex[:12]}", False
    try:
        with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}):
            yield
    finally:
        conf.task_default_queue, conf.task_always_eager = saved


def format_table(results: Sequence[Result]) -> str:
    """One row per scenario: name, engine, turns used of those allowed, pass/fail, why it failed."""
    rows = [("scenario", "engine", "turns", "result", "reason")]
    for result in results:
        verdict = "pass" if result.passed else "FAIL"
        rows.append((result.scenario, result.engine, f"{result.turns}/{result.max_turns}", verdict, result.reason))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)), row[4]]).rstrip()
        for row in rows
    ]
    passed = sum(result.passed for result in results)
    seconds = sum(result.seconds for result in results)
    lines.append(f"{passed} of {len(results)} passed, {len(results) - passed} failed in {seconds:.1f} s")
    return "\n".join(lines)


# --- the scripted model ----------------------------------------------------------------------------------------
WIDGET_PREFIX = "The following graphical UI widget"
NOTE_RE = re.compile(
    r"Return being put together: order (?P<order>\S+); items (?P<items>.*?); reason (?P<reason>.*?); "
    r"resolution (?P<resolution>.*?); shipping (?P<shipping>.*?)\.(?:\s|$)"
)
# Assistant words after which the return being put together is gone: cancelled, or filed for review.
RESET_WORDS = ("cancelled that return", "with our team for a quick review")
# Cards that change the flow in thread metadata (summaries, and the guided steps after clicks); lists do not.
FLOW_CARDS = {"summary", "reasons", "resolutions", "shipping", "choices"}
HANDOFF = (
    "I've asked our support team to join this conversation; an agent will be with you here. "
    "Meanwhile I can keep helping with your return."
)
MENU_TEXT = (
    "I can help you return an item, tell you where a return is, or answer questions about our return policy. "
    "What would you like to do?"
)
ASK_RESOLUTION = (
    "Thanks. How would you like this resolved: a Full Refund, an Exchange, Store Credit (with a bonus) or "
    "Keep with Discount?"
)
ASK_SHIPPING = (
    "{resolution} it is. How would you like to send it back: Prepaid Shipping Label, Schedule Pickup, "
    "Customer Drop-off or Return to Store?"
)
MAX_TOOL_CALLS = 4  # per turn: a policy that loops would be a bug here, not something to wait for


@dataclass
class _Seen:
    """One input item, as the policy reads it."""

    kind: str  # user, widget, assistant, note, call, output
    text: str = ""
    widget: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    call_id: str = ""


@dataclass(frozen=True)
class _Line:
    order_id: str
    sku: str
    name: str
    returnable: int
    eligible: bool
    why: str


@dataclass
class _Draft:
    """The return the policy is putting together, slot by slot, as the guided engine's Flow does."""

    order_id: str | None = None
    items: dict[str, int] = field(default_factory=dict)
    reason: Reason | None = None
    resolution: Resolution | None = None
    shipping: Shipping | None = None

    def reset(self) -> None:
        self.__dict__.update(_Draft().__dict__)

    def choose(self, order_id: str, sku: str, quantity: int) -> None:
        if order_id != self.order_id:
            self.reset()
            self.order_id = order_id
        self.items[sku] = quantity

    @property
    def complete(self) -> bool:
        needs_shipping = self.resolution is not Resolution.KEEP_WITH_DISCOUNT
        return bool(self.items and self.reason and self.resolution and (self.shipping or not needs_shipping))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return ""


def _read(inputs: Any) -> list[_Seen]:
    """The conversation so far: thread items (messages, cards, the engine's notes) and this turn's tool calls."""
    if isinstance(inputs, str):
        return [_Seen("user", inputs)]
    seen: list[_Seen] = []
    for raw in inputs:
        item = raw if isinstance(raw, dict) else raw.model_dump(exclude_none=True)
        kind, role = item.get("type"), item.get("role")
        if kind == "function_call":
            seen.append(_Seen("call", str(item.get("arguments", "")), name=item["name"], call_id=item["call_id"]))
        elif kind == "function_call_output":
            seen.append(_Seen("output", _text(item.get("output")), call_id=item["call_id"]))
        elif role in ("system", "developer"):
            seen.append(_Seen("note", _text(item.get("content"))))
        elif role == "assistant":
            seen.append(_Seen("assistant", _text(item.get("content"))))
        elif role == "user":
            text = _text(item.get("content"))
            if text.startswith(WIDGET_PREFIX):
                try:
                    widget = json.loads(text.split("was displayed to the user:", 1)[1])
                except (IndexError, ValueError):
                    widget = {}
                seen.append(_Seen("widget", text, widget=widget))
            else:
                seen.append(_Seen("user", text))
    return seen


def _note(seen: list[_Seen]) -> _Draft | None:
    """The engine's note of the return in the thread's metadata (what clicks and propose_return put there)."""
    for item in seen:
        match = NOTE_RE.search(item.text) if item.kind == "note" else None
        if match:
            draft = _Draft(order_id=match["order"])
            for part in match["items"].split(", "):
                quantity, _, sku = part.partition(" x ")
                if quantity.isdigit() and sku:
                    draft.items[sku] = int(quantity)
            for label, kind in (("reason", Reason), ("resolution", Resolution), ("shipping", Shipping)):
                value = match[label]
                if value != "not yet" and value in {str(member) for member in kind}:
                    setattr(draft, label, kind(value))
            return draft
    return None


def _older_messages(seen: list[_Seen]) -> list[str]:
    """What the customer said before the engine's window, from its summary note."""
    for item in seen:
        if item.kind == "note" and "the customer said:" in item.text:
            said = item.text.split("the customer said:", 1)[1].split(", cards shown:", 1)[0]
            return re.findall(r"“(.*?)”", said)
    return []


def _lines(orders: dict[str, Any]) -> list[_Line]:
    return [
        _Line(
            str(line["order_id"]),
            str(line["sku"]),
            str(line["name"]),
            int(line.get("returnable") or 0),
            bool(line.get("eligible")),
            str(line.get("why", "")),
        )
        for order in orders.get("orders", [])
        for line in order.get("lines", [])
    ]


def _has_slots(said: Understanding) -> bool:
    return bool(said.items or said.order_id or said.reason or said.resolution or said.shipping or said.quantity)


class _Replay:
    """The customer's words applied in order, as the guided engine applies them, into a draft return."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.catalog = list({line.sku: CatalogItem(line.sku, line.name) for line in lines}.values())
        self.draft = _Draft()
        self.notices: list[str] = []

    def _order_for(self, sku: str, preferred: str | None) -> str | None:
        candidates = [line for line in self.lines if line.sku == sku]
        if any(line.order_id == preferred for line in candidates):
            return preferred
        chosen = ([line for line in candidates if line.eligible] or candidates or [None])[0]
        return chosen.order_id if chosen else None

    def _line(self, order_id: str, sku: str) -> _Line | None:
        return next((line for line in self.lines if line.order_id == order_id and line.sku == sku), None)

    def apply(self, text: str, latest: bool) -> Understanding:
        said = understand(text, self.catalog)
        draft = self.draft
        if said.intent is Intent.CANCEL:
            draft.reset()
        if said.intent in (Intent.CANCEL, Intent.POLICY_QUESTION, Intent.RETURN_STATUS, Intent.HUMAN):
            return said
        if said.intent is Intent.START_OVER:
            draft.reset()
        if said.order_id and not any(line.order_id == said.order_id for line in self.lines):
            if latest:
                self.notices.append(f"I couldn't find order {said.order_id} on your account.")
        elif said.order_id and said.order_id != draft.order_id:
            draft.reset()
            draft.order_id = said.order_id
        for mention in said.items:
            order_id = self._order_for(mention.sku, said.order_id or draft.order_id)
            line = self._line(order_id, mention.sku) if order_id else None
            if line is None:
                continue
            if not line.eligible:
                if latest:
                    self.notices.append(f"Sorry, {line.name} can't be returned: {line.why}")
                continue
            quantity = line.returnable if mention.all_units else (mention.quantity or said.quantity or 1)
            if said.all_units and len(said.items) == 1:
                quantity = line.returnable
            draft.choose(line.order_id, line.sku, max(1, min(quantity, line.returnable)))
        if said.quantity and not said.items and len(draft.items) == 1 and draft.order_id:
            [sku] = draft.items
            line = self._line(draft.order_id, sku)
            if line is not None:
                draft.items[sku] = max(1, min(said.quantity, line.returnable))
        draft.reason = said.reason or draft.reason
        draft.resolution = said.resolution or draft.resolution
        draft.shipping = said.shipping or draft.shipping
        return said

    def overlay(self, note: _Draft) -> None:
        """The thread's flow, as the card showing it was drawn, replaces what was said before that card."""
        self.draft = replace(note, items=dict(note.items))


def _replay(seen: list[_Seen], lines: list[_Line]) -> tuple[_Replay, Understanding]:
    replay = _Replay(lines)
    for text in _older_messages(seen):
        replay.apply(text, latest=False)
    users = [index for index, item in enumerate(seen) if item.kind == "user"]
    resets = [
        index
        for index, item in enumerate(seen)
        if (item.kind == "assistant" and any(words in item.text for words in RESET_WORDS))
        or (item.kind == "user" and understand(item.text, replay.catalog).intent is Intent.CANCEL)
    ]
    after = resets[-1] if resets else -1
    cards = [
        index
        for index, item in enumerate(seen)
        if index > after and item.kind == "widget" and item.widget.get("key") in FLOW_CARDS
    ]
    note = _note(seen)
    if resets:
        replay.draft.reset()
    said = Understanding(Intent.UNKNOWN)
    for index, item in enumerate(seen):
        if index <= after and item.kind == "user":
            continue
        if cards and index == cards[-1] and note is not None:
            replay.overlay(note)
        if item.kind == "user":
            said = replay.apply(item.text, latest=index == users[-1])
    return replay, said


def _names(replay: _Replay) -> str:
    draft = replay.draft
    names = []
    for sku, quantity in draft.items.items():
        line = replay._line(draft.order_id or "", sku)
        name = line.name if line else sku
        names.append(f"{quantity} × {name}" if quantity > 1 else f"the {name}")
    return " and ".join(names)


def _say(*parts: str) -> list[TResponseOutputItem]:
    return [assistant_message(" ".join(part for part in parts if part))]


def _call(name: str, arguments: dict[str, Any], seen: list[_Seen]) -> TResponseOutputItem:
    return function_call(name, arguments, call_id=f"sim-{name}-{len(seen)}")


def _status_text(result: dict[str, Any]) -> str:
    waiting, returns = result.get("waiting_for_review", []), result.get("returns", [])
    if not waiting and not returns:
        return "You don't have any returns yet. Would you like to start one?"
    parts = [
        f"Return request #{item['request']} for {item['order_id']}: waiting for review ({money(item['total_cents'])})"
        for item in waiting
    ]
    parts += [f"Return {item['return_id']} for {item['order_id']}: {item['status']}" for item in returns]
    return "Here's where your returns are: " + "; ".join(parts) + "."


def _policy_text(result: dict[str, Any]) -> str:
    policies = result.get("policies", [])
    if not policies:
        return (
            "I couldn't find a policy about that. I can tell you about return windows, fees, refunds, store credit, "
            "exchanges and shipping, or start a return for you."
        )
    best, related = policies[0], policies[1:]
    answer = f"From our “{best['title']}” policy: {best['text']}"
    if related:
        answer += " Related: " + ", ".join(f"“{policy['title']}”" for policy in related) + ". Anything else?"
    return answer


def _next_step(seen: list[_Seen], orders: dict[str, Any], latest: str) -> list[TResponseOutputItem]:
    """After list_orders: what the customer has said so far decides the next question, or the proposal."""
    replay, said = _replay(seen, _lines(orders))
    draft, notices = replay.draft, " ".join(replay.notices)
    note = _note(seen)
    on_card = note is not None and (note.order_id, note.items, note.reason, note.resolution, note.shipping) == (
        draft.order_id,
        draft.items,
        draft.reason,
        draft.resolution,
        draft.shipping,
    )
    if draft.complete and on_card and not _has_slots(said):
        return _say(
            notices,
            "Your return is on the summary card above: press Confirm to send it to our team, or tell me what to "
            "change.",
        )
    if not draft.items:
        if not _has_slots(said) and said.intent not in (Intent.START_RETURN, Intent.START_OVER, Intent.GREETING):
            return _say(notices, MENU_TEXT)
        first = str(orders.get("customer", {}).get("name", "")).split(" ")[0]
        greeting = f"Hi {first}!" if said.intent is Intent.GREETING and first else ""
        spoken = " ".join(part for part in (greeting, notices) if part)
        call = _call("returnable_items", {"order_id": draft.order_id}, seen)
        return [assistant_message(spoken), call] if spoken else [call]
    if draft.reason is None:
        return _say(notices, f"Got it: {_names(replay)}. What's the reason for the return?")
    if draft.resolution is None:
        return _say(notices, ASK_RESOLUTION)
    if draft.resolution is not Resolution.KEEP_WITH_DISCOUNT and draft.shipping is None:
        return _say(notices, ASK_SHIPPING.format(resolution=draft.resolution))
    arguments = {
        "order_id": draft.order_id,
        "items": [{"sku": sku, "quantity": quantity} for sku, quantity in draft.items.items()],
        "reason": str(draft.reason),
        "resolution": str(draft.resolution),
        "shipping": str(draft.shipping)
        if draft.shipping and draft.resolution is not Resolution.KEEP_WITH_DISCOUNT
        else None,
    }
    call = _call("propose_return", arguments, seen)
    return [assistant_message(notices), call] if notices else [call]


def decide(call: ModelCall) -> list[TResponseOutputItem]:
    """One model response: a tool call or the words to the customer, from the conversation in ``call.input``."""
    seen = _read(call.input)
    users = [index for index, item in enumerate(seen) if item.kind == "user"]
    if not users:
        return _say("Hello! How can I help with your return?")
    latest = seen[users[-1]].text
    this_turn = seen[users[-1] + 1 :]
    names = {item.call_id: item.name for item in this_turn if item.kind == "call"}
    outputs = [(names.get(item.call_id, ""), item.text) for item in this_turn if item.kind == "output"]
    if not outputs:
        intent = understand(latest, []).intent
        if intent is Intent.HUMAN:
            return _say(HANDOFF)
        if intent is Intent.CANCEL:
            return [_call("cancel_return", {}, seen)]  # the model drops the return through its tool
        if intent is Intent.THANKS:
            return _say("You're welcome! Anything else I can help with?")
        if intent is Intent.RETURN_STATUS:
            return [_call("return_status", {}, seen)]
        if intent is Intent.POLICY_QUESTION:
            return [_call("search_policy", {"question": latest}, seen)]
        return [_call("list_orders", {}, seen)]
    if len(outputs) >= MAX_TOOL_CALLS:
        return _say(MENU_TEXT)
    name, output = outputs[-1]
    try:
        result = json.loads(output)
    except ValueError:
        result = {"error": output}
    if not isinstance(result, dict):
        result = {"error": str(result)}
    if "error" in result:
        return _say(f"Sorry, I can't do that: {result['error']}")
    if name == "list_orders":
        return _next_step(seen, result, latest)
    if name == "return_status":
        return _say(_status_text(result))
    if name == "search_policy":
        return _say(_policy_text(result))
    if name == "returnable_items":
        return _say("Which item would you like to return?")
    if name == "propose_return":
        return _say(
            f"Here's your return ({result.get('resolution')}). Please check the summary card and press Confirm to "
            "send it to our team for review."
        )
    if name == "cancel_return":
        return _say("No problem, I've cancelled that return. Anything else I can help with?")
    return _say(MENU_TEXT)


class RespondingModel(ScriptedModel):
    """A scripted model that works out each answer from the call it is given (``respond``), for as many calls as
    the conversation makes."""

    def respond(self, call: ModelCall) -> list[TResponseOutputItem]:
        raise NotImplementedError

    def _next(self) -> None:
        if not self.remaining_steps:
            self.enqueue(ModelStep.respond(self.respond))

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        self._next()
        return await super().get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        self._next()
        async for event in super().stream_response(*args, **kwargs):
            yield event


class PolicyModel(RespondingModel):
    """The language model's stand-in for simulations and tests: a small deterministic policy (``decide``) that
    reads the conversation it is given, fills the return's slots with the guided engine's ``understand()``, and
    calls the catalogue's tools as a model would, so the same scenarios run on both engines without a network."""

    def respond(self, call: ModelCall) -> list[TResponseOutputItem]:
        return decide(call)
