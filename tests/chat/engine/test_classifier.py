"""The trained second reading of a message (chat/engine/classifier.py, training.py) and how understand() uses it."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import pytest

from chat.engine import classifier, understanding
from chat.engine.classifier import Head, features, load_model, save_model, train_head
from chat.engine.training import (
    EVALUATION_PATH,
    TRAINING_PATH,
    cross_validate,
    fingerprint,
    read_rows,
    train_model,
    training_rows,
)
from chat.engine.understanding import CatalogItem, Intent, normalise, understand
from customers.domain import Reason

HUB = (CatalogItem("HUB-SMART-2", "Smart Home Hub"), CatalogItem("MOUSE-ERGO", "Ergonomic Wireless Mouse"))


def test_features_share_letters_across_word_forms():
    flickers, flickering = set(features("it flickers")), set(features("it was flickering"))
    assert "c:<fli" in flickers & flickering
    assert "b:not_working" in features("not working at all")
    assert "w:#" in features("send 3 back")  # numbers share one feature


def test_a_head_learns_what_it_is_shown_and_says_how_sure_it_is():
    examples = [
        (features(text), label)
        for text, label in [
            ("it is broken", "fault"),
            ("stopped working", "fault"),
            ("the screen is broken", "fault"),
            ("it will not turn on", "fault"),
            ("changed my mind", "mind"),
            ("do not need it", "mind"),
            ("i do not want it anymore", "mind"),
            ("changed my mind about it", "mind"),
        ]
        * 3
    ]
    head = train_head(examples, ("fault", "mind"), min_count=1)
    label, sure = head.predict(features("it is broken again"))
    assert label == "fault" and sure > 0.8
    assert head.predict(features("i changed my mind"))[0] == "mind"
    assert train_head(examples, ("fault", "mind"), min_count=1) == head, "training is deterministic"


def test_a_saved_model_loads_the_same(tmp_path: Path):
    head = Head(("a", "b"), (0.1, -0.1), {"w:x": array("f", (1.0, -1.0))})
    model = classifier.Model(head, head, "abc")
    save_model(model, tmp_path / "model.json")
    assert load_model(tmp_path / "model.json") == model
    assert load_model(tmp_path / "missing.json") is None


def test_the_committed_model_is_trained_on_the_committed_rows():
    model = load_model()
    assert model is not None, "run python manage.py train_understanding"
    assert model.trained_on == fingerprint(training_rows()), "stale: run python manage.py train_understanding"


def test_held_out_messages_are_never_trained_on():
    held_out = {normalise(row["text"]) for row in read_rows(EVALUATION_PATH) if row["split"] == "held_out"}
    written = read_rows(TRAINING_PATH)
    assert len(written) >= 2000
    assert not held_out & {normalise(row["text"]) for row in written}
    trained = training_rows()
    assert all(row.get("split") != "held_out" for row in trained)
    assert len(trained) == len(written) + sum(row["split"] == "tune" for row in read_rows(EVALUATION_PATH))


def test_training_reproduces_the_committed_model_on_a_sample():
    """The whole set takes a minute to train; a slice shows training is a function of its rows."""
    rows = training_rows()[::25]
    assert train_model(rows) == train_model(rows)


@pytest.mark.parametrize(
    ("said", "reason"),
    [
        ("the hub keeps losing its connection every evening", Reason.DAMAGED),
        ("the one that came is the older model", Reason.WRONG_ITEM),
    ],
)
def test_the_model_reads_a_reason_the_tables_miss_and_marks_it_a_guess(
    monkeypatch: pytest.MonkeyPatch, said: str, reason: Reason
):
    read = understand(said, HUB)
    assert (read.reason, read.reason_guessed) == (reason, True)
    monkeypatch.setattr(understanding.classifier, "load_model", lambda: None)
    assert understand(said, HUB).reason is None, "the tables alone miss it"


def test_a_reason_the_tables_find_is_not_a_guess():
    read = understand("the hub arrived broken", HUB)
    assert (read.reason, read.reason_guessed) == (Reason.DAMAGED, False)


def test_the_model_never_adds_a_reason_to_a_question():
    read = understand("can i return something that stopped working after 40 days?", HUB)
    assert read.intent is Intent.POLICY_QUESTION and read.reason is None


def test_the_model_corrects_a_return_verb_inside_a_status_question(monkeypatch: pytest.MonkeyPatch):
    said = "sent the mouse back two weeks ago, nothing on my card yet"
    assert understand(said, HUB).intent is Intent.RETURN_STATUS
    monkeypatch.setattr(understanding.classifier, "load_model", lambda: None)
    assert understand(said, HUB).intent is Intent.START_RETURN, "the tables alone read a return"


def test_the_model_file_is_json_of_two_heads():
    data = json.loads(classifier.MODEL_PATH.read_text(encoding="utf-8"))
    assert set(data) == {"intent", "reason", "trained_on"}


def test_cross_validation_reads_each_author_with_a_model_that_never_saw_them():
    written = read_rows(TRAINING_PATH)
    two = [row for row in written if row["author"] in ("A", "B")][::4]
    table = cross_validate(two, training_rows([EVALUATION_PATH])[::4])
    assert [author for author, *_ in table] == ["A", "B"]
    for author, count, alone, helped in table:
        assert count == sum(row["author"] == author for row in two)
        assert 0 <= alone <= count and 0 <= helped <= count
