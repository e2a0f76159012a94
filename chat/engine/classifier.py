"""A trained reading of a message, for what the phrase tables miss: an intent and a reason from word and
letter n-grams, by multinomial logistic regression.

The tables in ``lexicon.py`` are exact about the phrases they hold and blind to every other way of saying the
same thing ("the left side cuts out", "the switches aren't the ones listed"). Each new author of customer
messages brought phrasings the tables had never seen, and tuning the tables on them did not carry over to the
next author. A linear model over n-grams, trained on a few thousand labelled messages from several authors,
carries over better; ``understanding.py`` asks it only where the tables found nothing, or where it is sure.

Pure Python, no dependency: a message has a few hundred features and a head a dozen labels, so a prediction is
a few thousand multiplications (~0.3 ms). Weights are trained by ``python manage.py train_understanding`` and
stored in ``data/understanding_model.json``; training is deterministic, so the file is reproducible.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODEL_PATH = Path(__file__).resolve().parent / "data" / "understanding_model.json"
CHAR_GRAMS = (3, 4, 5)
PRUNE_BELOW = 0.01  # a feature no label weighs this much says nothing; leaving it out keeps the file small
NO_REASON = "none"  # the reason head's label for a message that gives no reason


def features(clean: str) -> list[str]:
    """Words, word pairs and the letter n-grams of each word of a normalised message.

    Letter n-grams let "flickering", "flickers" and "flicker" share weight; pairs keep "not working" apart from
    "working". Numbers become "#" so quantities and sizes share weight too.
    """
    words = ["#" if word.isdigit() else word for word in clean.split()]
    found = [f"w:{word}" for word in words if word != ","]
    padded = ["<s>", *words, "</s>"]
    found += [f"b:{a}_{b}" for a, b in itertools.pairwise(padded) if a != "," and b != ","]
    for word in words:
        if len(word) < 3 or word == "#":
            continue
        marked = f"<{word}>"
        found += [f"c:{marked[i : i + n]}" for n in CHAR_GRAMS for i in range(len(marked) - n + 1)]
    return found


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)  # subtracted so exp never overflows
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


@dataclass(frozen=True)
class Head:
    """One multinomial logistic regression: a label per message and how sure it is."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, array]  # feature -> a weight per label, as 32-bit floats: ~30k features in a few MB

    def probabilities(self, found: Iterable[str]) -> list[float]:
        scores = list(self.bias)
        for feature in found:
            row = self.weights.get(feature)
            if row is not None:
                for i, weight in enumerate(row):
                    scores[i] += weight
        return _softmax(scores)

    def predict(self, found: Iterable[str]) -> tuple[str, float]:
        probabilities = self.probabilities(found)
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        return self.labels[best], probabilities[best]

    def to_json(self) -> dict:
        weights = {feature: [round(weight, 4) for weight in row] for feature, row in self.weights.items()}
        return {"labels": list(self.labels), "bias": list(self.bias), "weights": weights}

    @classmethod
    def from_json(cls, data: dict) -> Head:
        weights = {feature: array("f", row) for feature, row in data["weights"].items()}
        return cls(tuple(data["labels"]), tuple(data["bias"]), weights)


def train_head(
    examples: Sequence[tuple[list[str], str]],
    labels: Sequence[str],
    *,
    epochs: int = 8,
    l2: float = 3e-3,
    rate: float = 0.5,
    min_count: int = 2,
    seed: int = 122026,
) -> Head:
    """Softmax regression by Adagrad; features seen fewer than ``min_count`` times are left out (they fit
    one message, not a way of speaking). Deterministic for the same examples in the same order."""
    counts = Counter(feature for found, _ in examples for feature in set(found))
    kept = sorted(feature for feature, count in counts.items() if count >= min_count)
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels)
    weights = {feature: [0.0] * size for feature in kept}
    squares = {feature: [1e-8] * size for feature in kept}
    bias = [0.0] * size
    bias_squares = [1e-8] * size
    order = list(range(len(examples)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for position in order:
            found, label = examples[position]
            present = [feature for feature in dict.fromkeys(found) if feature in weights]
            scores = list(bias)
            for feature in present:
                for i, weight in enumerate(weights[feature]):
                    scores[i] += weight
            gradient = _softmax(scores)
            gradient[index[label]] -= 1.0
            for i, step in enumerate(gradient):
                bias_squares[i] += step * step
                bias[i] -= rate * step / math.sqrt(bias_squares[i])
            for feature in present:
                row, squared = weights[feature], squares[feature]
                for i, step in enumerate(gradient):
                    step += l2 * row[i]
                    squared[i] += step * step
                    row[i] -= rate * step / math.sqrt(squared[i])
    rounded = {
        feature: array("f", (round(weight, 4) for weight in row))
        for feature, row in weights.items()
        if any(abs(weight) >= PRUNE_BELOW for weight in row)
    }
    return Head(tuple(labels), tuple(round(value, 4) for value in bias), rounded)


@dataclass(frozen=True)
class Model:
    intent: Head
    reason: Head
    trained_on: str  # sha256 of the training rows, so a test can tell the file is current


def save_model(model: Model, path: Path = MODEL_PATH) -> None:
    data = {"trained_on": model.trained_on, "intent": model.intent.to_json(), "reason": model.reason.to_json()}
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")


@lru_cache(maxsize=2)
def load_model(path: Path = MODEL_PATH) -> Model | None:
    """The trained model, or None where none was trained (the tables then read every message alone)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Model(Head.from_json(data["intent"]), Head.from_json(data["reason"]), data["trained_on"])
