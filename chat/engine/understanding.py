"""What a customer's message says, for the guided (offline) assistant: an intent plus every slot it fills.

Deterministic and table-driven: phrase tables per value, text normalised, keywords and item names matched
with typo tolerance. One message can fill several slots at once ("return the hub from ORD-79001, it broke").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from customers.domain import Reason, Resolution, Shipping


class Intent(StrEnum):
    START_RETURN = "start_return"
    RETURN_STATUS = "return_status"
    POLICY_QUESTION = "policy_question"
    CONFIRM = "confirm"
    CHANGE = "change"
    CANCEL = "cancel"
    START_OVER = "start_over"
    YES = "yes"
    NO = "no"
    GREETING = "greeting"
    THANKS = "thanks"
    HELP = "help"
    HUMAN = "human"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str


@dataclass(frozen=True)
class ItemMention:
    sku: str
    quantity: int | None
    all_units: bool = False


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    order_id: str | None = None
    items: tuple[ItemMention, ...] = ()
    reason: Reason | None = None
    resolution: Resolution | None = None
    shipping: Shipping | None = None
    quantity: int | None = None
    all_units: bool = False
    policy_topic: str | None = None


REASON_PHRASES: dict[Reason, tuple[str, ...]] = {
    Reason.DAMAGED: (
        "damaged",
        "damage",
        "broken",
        "broke",
        "defective",
        "faulty",
        "cracked",
        "smashed",
        "shattered",
        "doesnt work",
        "does not work",
        "not working",
        "stopped working",
        "doesnt turn on",
        "wont turn on",
        "dead on arrival",
        "dented",
        "scratched",
        "malfunction",
        "damaged defective",
    ),
    Reason.WRONG_ITEM: (
        "wrong item",
        "wrong one",
        "wrong product",
        "wrong size",
        "wrong colour",
        "wrong color",
        "wrong model",
        "not what i ordered",
        "sent me the wrong",
        "different item",
        "wrong item received",
    ),
    Reason.NOT_AS_DESCRIBED: (
        "not as described",
        "nothing like the picture",
        "not like the picture",
        "not like the photo",
        "different from the description",
        "misleading",
        "not as advertised",
        "looks different",
        "nothing like",
    ),
    Reason.CHANGED_MIND: (
        "changed my mind",
        "change my mind",
        "dont need it",
        "dont want it",
        "no longer need",
        "dont like it",
        "not needed",
        "dont need",
        "no longer want",
        "changed mind",
    ),
    Reason.BETTER_PRICE: (
        "better price",
        "cheaper",
        "lower price",
        "found it for less",
        "price match",
        "better deal",
        "found better price",
    ),
    Reason.ARRIVED_LATE: (
        "arrived too late",
        "too late",
        "arrived late",
        "came late",
        "came after",
        "late delivery",
        "delayed",
    ),
    Reason.GIFT_RETURN: ("gift", "present", "gift return", "was given"),
}

RESOLUTION_PHRASES: dict[Resolution, tuple[str, ...]] = {
    Resolution.STORE_CREDIT: ("store credit", "credit", "gift card", "voucher", "store_credit"),
    Resolution.FULL_REFUND: ("full refund", "refund", "money back", "my money", "reimburse", "full_refund"),
    Resolution.EXCHANGE: ("exchange", "replacement", "replace it", "swap", "new one", "another one"),
    Resolution.KEEP_WITH_DISCOUNT: (
        "keep it with a discount",
        "keep with discount",
        "keep it",
        "keep the item",
        "partial refund",
        "discount",
        "keep_with_discount",
    ),
}

SHIPPING_PHRASES: dict[Shipping, tuple[str, ...]] = {
    Shipping.PREPAID_LABEL: ("prepaid label", "shipping label", "print a label", "label", "prepaid", "prepaid_label"),
    Shipping.PICKUP: ("pick it up", "pickup", "pick up", "collect", "courier", "schedule a pickup", "schedule_pickup"),
    Shipping.DROP_OFF: ("drop it off", "drop off", "dropoff", "drop-off", "post office", "drop_off", "carrier point"),
    Shipping.RETURN_TO_STORE: (
        "return to store",
        "in store",
        "to a store",
        "to the store",
        "bring it to",
        "return_to_store",
    ),
}

INTENT_PHRASES: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (
        Intent.HUMAN,
        ("human", "real person", "agent", "representative", "talk to someone", "speak to someone", "operator"),
    ),
    (Intent.START_OVER, ("start over", "restart", "start again", "from scratch", "begin again")),
    (Intent.CANCEL, ("cancel", "never mind", "nevermind", "forget it", "stop", "abort")),
    (
        Intent.RETURN_STATUS,
        (
            "where is my return",
            "status",
            "track my return",
            "track",
            "wheres my",
            "where is my refund",
            "has my return",
            "my return status",
            "did you get my",
        ),
    ),
    (Intent.CONFIRM, ("confirm", "submit", "looks good", "go ahead", "thats right", "correct", "send it")),
    (Intent.CHANGE, ("change", "edit", "actually", "modify", "instead")),
    (
        Intent.START_RETURN,
        (
            "return",
            "send back",
            "send it back",
            "send something back",
            "send them back",
            "send this back",
            "give back",
            "returning",
        ),
    ),
    (Intent.THANKS, ("thanks", "thank you", "thx", "cheers")),
    (Intent.HELP, ("help", "what can you do", "how does this work", "options")),
    (Intent.GREETING, ("hi", "hello", "hey", "good morning", "good afternoon", "good evening")),
)
YES_WORDS = {"yes", "yep", "yeah", "yup", "ok", "okay", "sure", "y", "please do", "right"}
NO_WORDS = {"no", "nope", "nah", "n", "not really"}
QUESTION_STARTS = (
    "how",
    "what",
    "can i",
    "do you",
    "is there",
    "are",
    "when",
    "which",
    "does",
    "do i",
    "will",
    "why",
    "is it",
)
POLICY_WORDS = (
    "policy",
    "how long",
    "restocking",
    "fee",
    "window",
    "days",
    "final sale",
    "clearance",
    "allowed",
    "can i return",
    "how many days",
    "shipping cost",
    "who pays",
    "bonus",
    "refund take",
    "how do refunds",
)
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a couple": 2,
    "a pair": 2,
    "single": 1,
}
STOP = {
    "the",
    "a",
    "an",
    "my",
    "i",
    "it",
    "to",
    "of",
    "and",
    "or",
    "from",
    "order",
    "want",
    "would",
    "like",
    "return",
    "returning",
    "please",
    "this",
    "that",
    "for",
    "with",
    "on",
    "in",
    "is",
    "was",
    "me",
    "some",
    "items",
    "item",
    "one",
    "ones",
    "them",
    "both",
    "all",
    "pack",
    "hi",
    "can",
    "you",
    "get",
    "be",
    "do",
    "have",
    "had",
    "got",
}
ORDER_RE = re.compile(r"\bord(?:er)?\s*[-#:]?\s*#?\s*(\d{4,10})\b", re.IGNORECASE)


def normalise(text: str) -> str:
    text = text.lower().replace("’", "'").replace("_", " ")
    text = re.sub(r"[\"'`]", "", text)
    text = re.sub(r"[^a-z0-9#\-\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _phrase_in(phrase: str, text: str, words: list[str]) -> bool:
    """Whole-phrase match, with typo tolerance for single words of five letters or more.

    Typos rarely touch the first letter; requiring it keeps "change" from reading as "exchange".
    """
    if re.search(rf"\b{re.escape(phrase)}\b", text):
        return True
    if " " in phrase or len(phrase) < 5:
        return False
    return any(_close(word, phrase) for word in words)


def _negated(phrase: str, text: str) -> bool:
    return bool(
        re.search(
            rf"\b(?:dont|do not|not|no|never|without)\s+(?:want\s+|need\s+|like\s+)?"
            rf"(?:a\s+|an\s+|the\s+)?{re.escape(phrase)}\b",
            text,
        )
    )


def _first_match(table: dict, text: str, words: list[str]):  # type: ignore[no-untyped-def]
    """The value whose phrase appears last in the text (later words win: "not a refund, store credit")."""
    best, best_at = None, -1
    for value, phrases in table.items():
        for phrase in phrases:
            if _phrase_in(phrase, text, words) and not _negated(phrase, text):
                found = re.search(rf"\b{re.escape(phrase)}\b", text)
                at = found.start() if found else len(text)
                if at > best_at:
                    best, best_at = value, at
    return best


def _name_tokens(name: str) -> list[str]:
    return [
        token
        for token in normalise(name).replace("-", " ").split()
        if token not in STOP and not re.search(r"\d", token)
    ]


SYNONYMS = {
    "tv": ["display", "television", "screen"],
    "display": ["screen", "monitor", "tv"],
    "cable": ["cables", "cord", "usb"],
    "hub": ["hubs"],
    "headphones": ["headset", "headphone"],
    "earbuds": ["earphones", "buds"],
    "bulbs": ["bulb", "lights"],
}


# Words many product names share; alone they do not identify an item.
GENERIC_NAME_WORDS = {"smart", "ultra", "pro", "mini", "max", "plus", "new", "hd", "wireless", "sport", "colour"}


def _close(word: str, target: str) -> bool:
    """A typo of ``target``: long enough to judge, same first letter, and mostly the same letters."""
    return len(word) >= 4 and word[0] == target[0] and difflib.SequenceMatcher(None, word, target).ratio() >= 0.84


def _match_items(text: str, words: list[str], catalog: Sequence[CatalogItem]) -> list[tuple[CatalogItem, int]]:
    """Catalog items the text names, with the position of the first word that matched (for quantities)."""
    content = [(i, w) for i, w in enumerate(words) if w not in STOP and not w.isdigit()]
    found: list[tuple[CatalogItem, int, float]] = []
    for item in catalog:
        tokens = _name_tokens(item.name)
        expanded = {t: [t, *SYNONYMS.get(t, [])] for t in tokens}
        score, first = 0.0, None
        for index, word in content:
            for token, variants in expanded.items():
                if any(word == v or _close(word, v) for v in variants):
                    weight = 0.6 if token in GENERIC_NAME_WORDS else 1.0
                    score += weight
                    first = index if first is None else min(first, index)
                    break
        if first is not None and score >= 0.6:
            found.append((item, first, score))
    if not found:
        return []
    best = max(score for _, _, score in found)
    # Keep clear matches; a weak one beside a strong one is usually a shared word ("smart").
    return [(item, at) for item, at, score in sorted(found, key=lambda f: f[1]) if score >= min(best, 1.0)]


def _quantity_before(words: list[str], position: int) -> int | None:
    for word in words[max(0, position - 2) : position]:
        if word.isdigit() and 0 < int(word) <= 20:
            return int(word)
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
    return None


def understand(text: str, catalog: Sequence[CatalogItem]) -> Understanding:
    raw = text or ""
    order_match = ORDER_RE.search(raw)
    order_id = f"ORD-{order_match.group(1)}" if order_match else None
    clean = normalise(ORDER_RE.sub(" ", raw))
    words = clean.split()
    if not words and not order_id:
        return Understanding(Intent.UNKNOWN)

    # "gift card" is a way to be paid, not a gift being returned.
    reason_text = re.sub(r"\bgift (card|voucher|certificate)s?\b", " ", clean)
    reason = _first_match(REASON_PHRASES, reason_text, reason_text.split())
    resolution = _first_match(RESOLUTION_PHRASES, clean, words)
    shipping = _first_match(SHIPPING_PHRASES, clean, words)
    all_units = bool(re.search(r"\b(both|all of them|all|every one|the pair)\b", clean))
    mentions = []
    for item, at in _match_items(clean, words, catalog):
        mentions.append(ItemMention(item.sku, _quantity_before(words, at), all_units and len(catalog) > 0))
    quantity = None
    if not mentions:
        bare = re.fullmatch(
            r"(?:just\s+)?(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|a couple)"
            r"(?:\s+of them)?(?:\s+please)?",
            clean,
        )
        if bare:
            token = bare.group(1)
            quantity = int(token) if token.isdigit() else NUMBER_WORDS[token]

    intent = Intent.UNKNOWN
    is_question = raw.strip().endswith("?") or clean.startswith(QUESTION_STARTS)
    if (
        is_question
        and any(_phrase_in(w, clean, words) for w in POLICY_WORDS)
        and not re.search(r"\bmy (return|refund)\b", clean)
    ):
        intent = Intent.POLICY_QUESTION
    elif clean in YES_WORDS:
        intent = Intent.YES
    elif clean in NO_WORDS or re.match(r"^(no|nope|nah)\b", clean):
        intent = Intent.NO
    else:
        for candidate, phrases in INTENT_PHRASES:
            if any(re.search(rf"\b{re.escape(p)}\b", clean) for p in phrases):
                if candidate is Intent.START_RETURN and shipping is Shipping.RETURN_TO_STORE and not mentions:
                    continue
                if candidate is Intent.CANCEL and (reason or resolution or mentions):
                    continue
                intent = candidate
                break
    if intent is Intent.UNKNOWN and (mentions or order_id):
        intent = Intent.START_RETURN
    if intent is Intent.RETURN_STATUS:
        # "status of my refund" asks about a return; it is not choosing a resolution.
        reason = resolution = shipping = None
    return Understanding(
        intent=intent,
        order_id=order_id,
        items=tuple(mentions),
        reason=reason,
        resolution=resolution,
        shipping=shipping,
        quantity=quantity,
        all_units=all_units,
        policy_topic=raw.strip() if intent is Intent.POLICY_QUESTION else None,
    )
