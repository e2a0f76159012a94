"""Training the understanding model (``classifier.py``) from labelled customer messages, and judging a reading
against a label (the evaluation set's rules, shared with ``tests/chat/engine/test_understanding_eval.py``).

The rows are ``data/training.jsonl`` (messages written for training by authors who never saw the phrase tables)
and the ``tune`` rows of the evaluation set (``tests/chat/engine/data/utterances.jsonl``). Rows split
``held_out`` are never trained on, whatever file they are in: they measure. Each message is read against the
catalog of its demo customer's orders, as the guided engine reads it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from chat.engine.classifier import NO_REASON, Model, features, train_head
from chat.engine.understanding import CatalogItem, Intent, Understanding, read_message, understand
from customers.domain import Reason

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAINING_PATH = DATA_DIR / "training.jsonl"
EVALUATION_PATH = Path(__file__).resolve().parents[2] / "tests" / "chat" / "engine" / "data" / "utterances.jsonl"
# The evaluation set's label for a message that only answers a question (the engine reads it as UNKNOWN + slots).
INFORM = "inform"
INTENT_LABELS = (*(intent.value for intent in Intent), INFORM)
REASON_LABELS = (*(reason.value for reason in Reason), NO_REASON)


@cache
def demo_catalogs() -> dict[str, tuple[CatalogItem, ...]]:
    """Each demo customer's order lines as the guided engine offers them: newest order first, one per SKU."""
    from customers.demo import build_demo_data

    data = build_demo_data(date(2026, 11, 27))  # line order is the same on any day
    found: dict[str, dict[str, CatalogItem]] = defaultdict(dict)
    for order in sorted(data.orders, key=lambda order: order.ordered_at, reverse=True):
        for line in order.lines:
            found[order.customer_id].setdefault(line.sku, CatalogItem(line.sku, line.name))
    return {customer: tuple(items.values()) for customer, items in found.items()}


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_rows(paths: Iterable[Path] = (TRAINING_PATH, EVALUATION_PATH)) -> list[dict]:
    """Every labelled row that may be trained on, in file order; held-out rows are left out."""
    return [row for path in paths for row in read_rows(path) if row.get("split") != "held_out"]


def fingerprint(rows: Sequence[dict]) -> str:
    """sha256 of what training reads from the rows, so a stale model file is caught."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row["customer"], row["text"], row["intent"], row.get("reason")]).encode())
    return digest.hexdigest()


def train_model(rows: Sequence[dict]) -> Model:
    catalogs = demo_catalogs()
    found = [features(read_message(row["text"], catalogs[row["customer"]])[1]) for row in rows]
    intent = train_head([(f, row["intent"]) for f, row in zip(found, rows, strict=True)], INTENT_LABELS)
    reason = train_head(
        [(f, row.get("reason") or NO_REASON) for f, row in zip(found, rows, strict=True)], REASON_LABELS
    )
    return Model(intent, reason, fingerprint(rows))


# --- judging --------------------------------------------------------------------------------------------------------
SLOTS = ("order_id", "items", "reason", "resolution", "shipping", "quantity")
# The engine answers these without using slots, so their slots are not judged.
UNSLOTTED = frozenset({Intent.POLICY_QUESTION.value, Intent.RETURN_STATUS.value, Intent.HUMAN.value})


@dataclass(frozen=True)
class Outcome:
    row: dict
    intent: str
    slots: dict[str, object]
    intent_ok: bool
    slot_ok: dict[str, bool]

    @property
    def right(self) -> bool:
        return self.intent_ok and all(self.slot_ok.values())


def eval_intent(said: Understanding) -> str:
    """The engine's intent, or "inform" for a message read as slots alone."""
    if said.intent is Intent.UNKNOWN and (said.reason or said.resolution or said.shipping or said.quantity):
        return INFORM
    return said.intent.value


def _items_match(expected: list[dict], said: Understanding) -> bool:
    if len(expected) != len(said.items):
        return False
    by_sku = {mention.sku: mention for mention in said.items}
    for label in expected:
        mention = by_sku.get(label["sku"])
        if mention is None:
            return False
        if label["all"]:
            if not mention.all_units:
                return False
        elif mention.all_units or mention.quantity != label["quantity"]:
            return False
    return True


def judge(row: dict, said: Understanding) -> Outcome:
    """Right when the intent and every labelled slot match; a slot labelled null must stay empty."""
    got = {
        "order_id": said.order_id,
        "items": [(m.sku, m.quantity, m.all_units) for m in said.items],
        "reason": said.reason.value if said.reason else None,
        "resolution": said.resolution.value if said.resolution else None,
        "shipping": said.shipping.value if said.shipping else None,
        "quantity": said.quantity,
    }
    slot_ok = {}
    for slot in SLOTS:
        if slot not in row or row["intent"] in UNSLOTTED:
            continue
        slot_ok[slot] = _items_match(row["items"], said) if slot == "items" else got[slot] == row[slot]
    intent = eval_intent(said)
    return Outcome(row, intent, got, intent == row["intent"], slot_ok)


def cross_validate(written: Sequence[dict], also: Sequence[dict]) -> list[tuple[str, int, int, int]]:
    """Leave one author out: for each author of ``written``, a model trained on the other authors and ``also``
    reads that author's messages. (author, messages, right by the tables alone, right with the model)."""
    catalogs = demo_catalogs()
    table = []
    for author in sorted({row["author"] for row in written}):
        held = [row for row in written if row["author"] == author]
        model = train_model([*(row for row in written if row["author"] != author), *also])
        alone = sum(judge(row, understand(row["text"], catalogs[row["customer"]], model=None)).right for row in held)
        helped = sum(judge(row, understand(row["text"], catalogs[row["customer"]], model=model)).right for row in held)
        table.append((author, len(held), alone, helped))
    return table
