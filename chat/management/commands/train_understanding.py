"""python manage.py train_understanding: retrain the guided engine's understanding model from its labelled rows."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.engine.classifier import MODEL_PATH, load_model, save_model
from chat.engine.training import EVALUATION_PATH, TRAINING_PATH, cross_validate, read_rows, train_model, training_rows


class Command(BaseCommand):
    help = (
        "Train the understanding model (chat/engine/classifier.py) on chat/engine/data/training.jsonl and the "
        "evaluation set's tune rows, and write chat/engine/data/understanding_model.json. Deterministic."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cross-validate",
            action="store_true",
            help="instead of training: leave each author of training.jsonl out in turn, train on the rest and print "
            "how many of that author's messages the tables alone and the tables with the model read right (~10 min)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["cross_validate"]:
            self._cross_validate()
            return
        rows = training_rows()
        started = time.monotonic()
        model = train_model(rows)
        save_model(model)
        load_model.cache_clear()
        self.stdout.write(
            f"Trained on {len(rows)} rows in {time.monotonic() - started:.0f} s: "
            f"{len(model.intent.weights)} intent and {len(model.reason.weights)} reason features -> {MODEL_PATH}"
        )

    def _cross_validate(self) -> None:
        tune = training_rows([EVALUATION_PATH])
        table = cross_validate(read_rows(TRAINING_PATH), tune)
        self.stdout.write(f"{'author':<8}{'messages':>10}{'tables alone':>16}{'with the model':>16}")
        for author, count, alone, helped in table:
            self.stdout.write(f"{author:<8}{count:>10}{alone / count:>16.1%}{helped / count:>16.1%}")
        count, alone, helped = (sum(column) for column in list(zip(*table, strict=True))[1:])
        self.stdout.write(f"{'all':<8}{count:>10}{alone / count:>16.1%}{helped / count:>16.1%}")
