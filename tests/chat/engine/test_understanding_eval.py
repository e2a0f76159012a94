"""The guided engine's understanding, judged on labelled customer phrasings it was not written against.

``data/utterances.jsonl`` holds one customer message a line, labelled with its intent and the slots it fills,
and a fixed ``split``: "tune" rows may be studied to find general causes of mistakes; "held_out" rows only
measure. The split was drawn once (seeded) before the engine was tuned and is never moved; new rows get theirs
the same way. Each message is understood against the catalog of the customer's demo orders (newest order first,
as the guided engine builds it).

Intent labels are the engine's, plus "inform": a message that only answers a question (a reason, a
resolution, a shipping method, a quantity) and that the engine reads as ``Intent.UNKNOWN`` with slots.
A message counts as right when its intent and every labelled slot match; a slot labelled null must stay
empty (nothing invented). Rows for policy, status and human requests carry no slot labels: the engine
answers those without using slots.

``pytest -s`` prints the table; it is also written to test-output/understanding-eval.txt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from chat.engine import understanding
from chat.engine.training import EVALUATION_PATH, SLOTS, Outcome, demo_catalogs, judge, read_rows
from chat.engine.understanding import understand

DATA = EVALUATION_PATH
OUTPUT = Path(__file__).resolve().parents[3] / "test-output" / "understanding-eval.txt"
SPLITS = ("tune", "held_out")
HELD_OUT_TARGET = 0.90  # issue 12's target: the tables with the trained model's second reading
# The tables alone, measured on 2026-11-28 (373/431): they are the fallback when no model is trained.
TABLES_ALONE_FLOOR = 0.86


def load_rows() -> list[dict]:
    return read_rows(DATA)


def evaluate(rows: Sequence[dict] | None = None) -> list[Outcome]:
    rows = load_rows() if rows is None else rows
    books = demo_catalogs()
    return [judge(row, understand(row["text"], books[row["customer"]])) for row in rows]


def _pct(right: int, total: int) -> str:
    return f"{100 * right / total:5.1f}% ({right}/{total})" if total else "    -"


def table(outcomes: Sequence[Outcome], per_call_us: float | None = None) -> str:
    lines = []
    intents = sorted({o.row["intent"] for o in outcomes})
    head = f"{'intent':<16}" + "".join(f"{split + ' intent':>22}{split + ' all right':>22}" for split in SPLITS)
    lines += ["Per intent (all right = intent and every labelled slot)", head, "-" * len(head)]
    for intent in [*intents, "OVERALL"]:
        cells = f"{intent:<16}"
        for split in SPLITS:
            chosen = [o for o in outcomes if o.row["split"] == split and intent in (o.row["intent"], "OVERALL")]
            cells += f"{_pct(sum(o.intent_ok for o in chosen), len(chosen)):>22}"
            cells += f"{_pct(sum(o.right for o in chosen), len(chosen)):>22}"
        lines.append(cells)
    lines += ["", "Per slot (filled = labelled value found; invented = a value where none was said)"]
    head = f"{'slot':<16}" + "".join(f"{split + ' filled':>22}{split + ' invented':>22}" for split in SPLITS)
    lines += [head, "-" * len(head)]
    for slot in SLOTS:
        cells = f"{slot:<16}"
        for split in SPLITS:
            chosen = [o for o in outcomes if o.row["split"] == split and slot in o.slot_ok]
            filled = [o for o in chosen if o.row[slot] not in (None, [])]
            empty = [o for o in chosen if o.row[slot] in (None, [])]
            cells += f"{_pct(sum(o.slot_ok[slot] for o in filled), len(filled)):>22}"
            cells += f"{_pct(sum(not o.slot_ok[slot] for o in empty), len(empty)):>22}"
        lines.append(cells)
    if per_call_us is not None:
        lines += ["", f"understand(): {per_call_us:.0f} µs per call (mean over the set, after warm-up)"]
    wrong = [o for o in outcomes if o.row["split"] == "held_out" and not o.right]
    lines += ["", f"Held-out rows not right ({len(wrong)}):"]
    for o in wrong:
        missed = [slot for slot, ok in o.slot_ok.items() if not ok]
        said = f"intent {o.intent}" + "".join(f", {slot} {o.slots[slot]!r}" for slot in missed)
        lines.append(f"  #{o.row['id']} {o.row['text']!r}: wanted {o.row['intent']}, got {said}")
    return "\n".join(lines) + "\n"


def _per_call_us(rows: Sequence[dict]) -> float:
    books = demo_catalogs()
    calls = [(row["text"], books[row["customer"]]) for row in rows]
    for text, catalog in calls:
        understand(text, catalog)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text, catalog in calls:
            understand(text, catalog)
        best = min(best, (time.perf_counter() - start) / len(calls) * 1e6)
    return best


def test_the_set_is_labelled_and_split():
    rows = load_rows()
    assert len(rows) >= 150
    assert {row["split"] for row in rows} == set(SPLITS)
    assert len({row["text"] for row in rows}) == len(rows), "each utterance once"
    held_out = sum(row["split"] == "held_out" for row in rows)
    assert 0.3 <= held_out / len(rows) <= 0.5
    books = demo_catalogs()
    for row in rows:
        skus = {item.sku for item in books[row["customer"]]}
        assert all(item["sku"] in skus for item in row.get("items", [])), row


def _held_out_accuracy() -> float:
    rows = load_rows()
    outcomes = evaluate(rows)
    report = table(outcomes, _per_call_us(rows))
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(report, encoding="utf-8")
    print("\n" + report)
    held_out = [o for o in outcomes if o.row["split"] == "held_out"]
    return sum(o.right for o in held_out) / len(held_out)


def test_held_out_accuracy_reaches_the_target():
    accuracy = _held_out_accuracy()
    assert accuracy >= HELD_OUT_TARGET, f"held-out accuracy {accuracy:.1%} < {HELD_OUT_TARGET:.0%}"


def test_the_tables_alone_do_not_fall_below_what_they_reached(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(understanding.classifier, "load_model", lambda: None)
    held_out = [o for o in evaluate() if o.row["split"] == "held_out"]
    accuracy = sum(o.right for o in held_out) / len(held_out)
    assert accuracy >= TABLES_ALONE_FLOOR, f"tables alone {accuracy:.1%} < {TABLES_ALONE_FLOOR:.0%}"


def test_understanding_is_deterministic():
    rows = load_rows()
    assert [o.slots for o in evaluate(rows)] == [o.slots for o in evaluate(rows)]


def test_understanding_is_fast():
    """It runs on every chat turn: under a millisecond a message (about 0.5 ms on the 2-core machine, the trained
    second reading included)."""
    assert _per_call_us(load_rows()) < 1000
