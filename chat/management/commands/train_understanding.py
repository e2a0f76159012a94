"""python manage.py train_understanding: retrain the guided engine's understanding model from its labelled rows."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from chat.engine.classifier import MODEL_PATH, load_model, save_model
from chat.engine.training import train_model, training_rows


class Command(BaseCommand):
    help = (
        "Train the understanding model (chat/engine/classifier.py) on chat/engine/data/training.jsonl and the "
        "evaluation set's tune rows, and write chat/engine/data/understanding_model.json. Deterministic."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rows = training_rows()
        started = time.monotonic()
        model = train_model(rows)
        save_model(model)
        load_model.cache_clear()
        self.stdout.write(
            f"Trained on {len(rows)} rows in {time.monotonic() - started:.0f} s: "
            f"{len(model.intent.weights)} intent and {len(model.reason.weights)} reason features -> {MODEL_PATH}"
        )
