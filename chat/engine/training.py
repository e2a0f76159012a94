"""Training the understanding model (``classifier.py``) from labelled customer messages.

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
from datetime import date
from functools import cache
from pathlib import Path

from chat.engine.classifier import NO_REASON, Model, features, train_head
from chat.engine.understanding import CatalogItem, Intent, read_message
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
