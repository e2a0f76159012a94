"""What a customer's message says, for the guided (offline) assistant: an intent plus every slot it fills.

Deterministic and table-driven (the tables are in ``lexicon.py``). A message is normalised first: order numbers
in any common format are taken out, contractions and chat shorthand spelled out ("won't" -> "will not", "pls" ->
"please"), and typos of known words corrected. Then:

- slots: every reason, resolution and shipping pattern found, less those inside a longer phrase ("partial refund"
  is not a full refund, "gift card" is not a gift) and those negated in their clause ("not damaged, I just changed
  my mind"); a reason naming a fault wins over a change of mind, otherwise the last value said wins;
- items: the message is cut at "and" and commas; each piece names at most one catalog item (best score of name
  words, what customers call that kind of product, and typos of either; ties go to the catalog's first, which the
  guided engine orders newest order first), with a quantity or "both"/"all" just before it;
- intent: the first of human, start over, cancel, status, policy question, change, yes, confirm, no, start a
  return (a return verb, an item or an order), thanks, help, greeting.

No embedding model: WordLlama (offline, in its wheel) was measured for descriptive references and left out. The
alias table already covers what it resolved, and it read "my house" and "at home" as the Smart Home Hub.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Generic, Literal, TypeVar

from chat.engine import classifier
from chat.engine import lexicon as lx
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
    # The reason is the trained model's reading, not a phrase the tables know: the engine asks before using it.
    reason_guessed: bool = False


# --- patterns -----------------------------------------------------------------------------------------------------
def _alternation(patterns: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b")


V = TypeVar("V")


@dataclass(frozen=True)
class _Table(Generic[V]):
    kind: str
    patterns: tuple[tuple[V, re.Pattern[str]], ...]


def _table(kind: str, phrases: dict) -> _Table:  # type: ignore[type-arg]
    return _Table(kind, tuple((value, _alternation(patterns)) for value, patterns in phrases.items()))


REASONS = _table("reason", lx.REASON_PATTERNS)
RESOLUTIONS = _table("resolution", lx.RESOLUTION_PATTERNS)
SHIPPINGS = _table("shipping", lx.SHIPPING_PATTERNS)
NOT_A_SLOT = _table("none", {None: lx.NOT_A_SLOT})

HUMAN_RE = _alternation(lx.HUMAN_PATTERNS)
STATUS_RE = _alternation(lx.STATUS_PATTERNS)
STATUS_OBJECT_RE = re.compile(rf"\b{lx.STATUS_OBJECT}\b")
STATUS_CUE_RE = _alternation(lx.STATUS_CUES)
POLICY_RE = _alternation(lx.POLICY_TOPICS)
STRONG_POLICY_RE = _alternation(lx.STRONG_POLICY)
START_OVER_RE = _alternation(lx.START_OVER_PATTERNS)
CANCEL_RE = _alternation(lx.CANCEL_PATTERNS)
STRONG_CANCEL_RE = _alternation(lx.STRONG_CANCEL_PATTERNS)
CHANGE_RE = _alternation(lx.CHANGE_PATTERNS)
CONFIRM_RE = _alternation(lx.CONFIRM_PATTERNS)
CONFIRM_VERB_RE = _alternation(lx.CONFIRM_VERBS)
START_RE = _alternation(lx.START_PATTERNS)
INSTEAD_RE = re.compile(r"\binstead\b")
QUANTITY_TO_RE = re.compile(
    r"\b(?:quantity|amount|number|qty)(?: to| of| should be| is)? (?P<a>\d{1,2}|one|two|three|four|five|six)\b"
    r"|\bmake (?:it|that) (?P<b>\d{1,2}|one|two|three|four|five|six)\b(?! \w)"
)
YES_RE = re.compile(r"^(?:" + "|".join(lx.YES_PHRASES) + r")\b")
NO_RE = re.compile(r"^(?:" + "|".join(lx.NO_PHRASES) + r")\b")
THANKS_RE = _alternation(lx.THANKS_PATTERNS + lx.DONE_PATTERNS)
DONE_RE = _alternation(lx.DONE_PATTERNS)
HELP_RE = _alternation(lx.HELP_PATTERNS)
GREETING_RE = re.compile(
    r"^(?:hi|hello|hey|heya|hiya|hallo|howdy|yo|sup|greetings|hola|good (?:morning|afternoon|evening|day))\b"
)
ALL_UNITS_RE = re.compile(
    r"\b(?:both|all of (?:them|it|those|these)|all \d+|all (?:the|my|those|these|of)|every one|everything|the pair|"
    r"the lot|all)\b(?! (?:good|right|correct|set|fine|done))"
)
PRONOUN_QUANTITY_RE = re.compile(
    r"\b(?:just |only )?(?P<said>both|all(?: \d{1,2}| two| three| four| five)?|every one|each|one|\d{1,2}|two|three|"
    r"four|five) of (?:them|those|these|em)\b"
)
ALL_EXCEPTIONS_RE = re.compile(r"\b(?:at all|that is all|thats all|all good|all right|all correct|all set|all fine)\b")

# Order numbers: "ORD-79001", "ord79001", "order no. 79001", "Order number: ORD 79001", "#79001", or the number alone.
ORDER_RES = (
    re.compile(r"\bord(?:er)?(?![a-z])[^\d\n]{0,20}?(\d{4,10})(?!\d)", re.IGNORECASE),
    re.compile(r"#\s*(\d{4,10})(?!\d)"),
    # A bare number is an order number unless a unit follows ("20000 mah", "65000 w").
    # A comma or full stop may end it ("from 79122, credit please"), but not join it to more digits ("20,000").
    re.compile(
        r"(?<![\w$£€.,])(\d{5,6})(?![\w%])(?![.,]\d)(?!\s*(?:mah|wh|w|v|hz|in|inch|inches|ft|mm|cm|gb|tb|mb)\b)", re.I
    ),
)
CLAUSE_BREAKS = frozenset({",", "but", "just", "so", "because", "and"})
SEGMENT_BREAKS = frozenset({",", "and", "plus", "also", "&", "but", "or", "then"})
# Unit nouns too: "all three packs of the bulbs", "two pairs of the earbuds".
QUANTITY_SKIP = frozenset(
    {"the", "my", "those", "these", "of", "just", "only", "a", "x", "them"}
    | {"pack", "packs", "pair", "pairs", "set", "sets", "box", "boxes", "units"}
)
QUANTITY_FILLER = frozenset(
    {"just", "only", "the", "of", "them", "those", "these", "it", "please", "i", "want", "would", "like", "to"}
    | {"return", "send", "back", "units", "unit", "items", "item", "pieces", "piece", "ones", "one", "make", "ok"}
    | {"okay", ",", "x", "em", "single", "pcs", "thanks", "yeah"}
)
_SUFFIX_GROUP = re.compile(r"(?<![a-z])([a-z]+)\(([a-z|]+)\)(\?)?(?![a-z(])")


def _pattern_words(pattern: str) -> set[str]:
    """The whole words of four letters or more a pattern spells: a stem with a suffix group ("rattl(e|es|ing)")
    spells each ending, and the bare stem only where the group is optional; a stem alone is no word a customer
    types, and a typo corrected to it ("rattle" -> "rattl") would match nothing."""
    words = {
        stem + ending
        for stem, endings, optional in _SUFFIX_GROUP.findall(pattern)
        for ending in (*endings.split("|"), *([""] if optional else []))
    }
    rest = re.sub(r"(?<=[a-z])\([^()]*\)\??", "", _SUFFIX_GROUP.sub(" ", pattern))
    words.update(re.findall(r"(?:^|(?<=[\s(|]))([a-z]{4,})(?=[\s)|]|$)", rest))
    return {word for word in words if len(word) >= 4}


# Every word of four letters or more in the tables: what a typo is corrected to.
KEYWORDS = frozenset(
    word
    for source in (
        *lx.REASON_PATTERNS.values(),
        *lx.RESOLUTION_PATTERNS.values(),
        *lx.SHIPPING_PATTERNS.values(),
        lx.HUMAN_PATTERNS,
        lx.STATUS_PATTERNS,
        lx.STATUS_CUES,
        lx.POLICY_TOPICS,
        lx.START_OVER_PATTERNS,
        lx.CANCEL_PATTERNS,
        lx.CHANGE_PATTERNS,
        lx.CONFIRM_PATTERNS,
        lx.START_PATTERNS,
        lx.THANKS_PATTERNS,
        lx.DONE_PATTERNS,
        lx.HELP_PATTERNS,
        (lx.STATUS_OBJECT,),
    )
    for pattern in source
    for word in _pattern_words(pattern)
) | {"return", "returns", "returning", "received", "refund", "damaged", "changed", "exchange"}


# What products are called is never a typo of a keyword ("smart" is not "start").
PRODUCT_VOCABULARY = (
    frozenset(
        word for head, aliases in lx.PRODUCT_ALIASES.items() for phrase in (head, *aliases) for word in phrase.split()
    )
    | lx.WEAK_NAME_WORDS
)


# --- normalisation ------------------------------------------------------------------------------------------------
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_CONTRACTIONS = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(it|that|what|where|there|here|how|who|he|she|screen|hub|display|this)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
)
_UNITS = (
    (re.compile(r"(\d+)\s*-?\s*(?:inch(?:es)?\b|\")"), r"\1in "),
    (re.compile(r"(\d+)\s*-?\s*(?:packs?|pks?)\b"), r"\1pack"),
    (re.compile(r"(\d+)\s*-?\s*(?:ft|foot|feet)\b"), r"\1ft"),
    (re.compile(r"\bwi\s*-?\s*fi\b"), "wifi"),
    (re.compile(r"\busb\s*-?\s*c\b"), "usb"),
    (re.compile(r"(\d),(\d{3})\b"), r"\1\2"),
    (re.compile(r"\b(\d{1,2})\s*x\b"), r"\1 "),
    (re.compile(r"\bx\s*(\d{1,2})\b"), r" x\1 "),
)


def _osa(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (edits, with a swap of neighbours as one), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _typo_limit(word: str) -> int:
    return 2 if len(word) >= 10 else 1


@lru_cache(maxsize=4096)
def _correct(word: str) -> str:
    """A known word this one is a typo of, or the word itself."""
    if len(word) < 4 or word in KEYWORDS or word in lx.COMMON_WORDS or not word.isalpha():
        return word
    if word in lx.YES_FIRST or word in lx.NO_FIRST:
        return word  # "nope" is not "none"
    if word.endswith("s") and (word[:-1] in KEYWORDS or word[:-1] in lx.COMMON_WORDS):
        return word  # a plural of a known word ("pictures")
    limit = _typo_limit(word)
    best: tuple[int, int, str] | None = None
    for keyword in KEYWORDS:
        if keyword[0] != word[0] or abs(len(keyword) - len(word)) > limit:
            continue
        distance = _osa(word, keyword, limit)
        if distance <= limit:
            candidate = (distance, abs(len(keyword) - len(word)), keyword)
            best = candidate if best is None or candidate < best else best
    return best[2] if best else word


def _clean(text: str) -> str:
    """Lower case, quotes and dashes unified, units joined to their numbers, contractions spelled out."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    for pattern, replacement in _UNITS:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = text.replace("'", "").replace("_", " ")
    text = re.sub(r"[,.;:!?()\[\]/+]+", " , ", text)
    text = re.sub(r"[^a-z0-9,&\s]", " ", text)
    return text


def normalise(text: str, keep: frozenset[str] = frozenset()) -> str:
    """The message as the tables read it (see the module docstring); words in ``keep`` are never corrected."""
    words: list[str] = []
    for word in _clean(text).split():
        expanded = lx.SHORTHAND.get(word, word)
        words.extend(
            part if part in keep or part in PRODUCT_VOCABULARY else _correct(part) for part in expanded.split()
        )
    while words and words[0] == ",":
        words.pop(0)
    while words and words[-1] == ",":
        words.pop()
    return " ".join(word for i, word in enumerate(words) if word != "," or words[i - 1] != ",")


def _find_order(raw: str) -> tuple[str | None, str]:
    for pattern in ORDER_RES:
        found = pattern.search(raw)
        if found:
            return f"ORD-{found.group(1)}", raw[: found.start()] + " , " + raw[found.end() :]
    return None, raw


# --- slots --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Hit:
    kind: str
    value: object
    start: int
    end: int


def _negated(text: str, hit: _Hit) -> bool:
    """A negation among the three words before the phrase, in the same clause ("not damaged", "no store credit")."""
    first = text[hit.start : hit.end].split()[0]
    if first in lx.NEGATIONS or first in {"do", "did", "does"}:
        return False
    before = text[: hit.start].split()[-3:]
    for word in reversed(before):
        if word in CLAUSE_BREAKS:
            return False
        if word in lx.NEGATIONS:
            return True
    return False


def _slot_hits(text: str) -> list[_Hit]:
    hits = [
        _Hit(table.kind, value, found.start(), found.end())
        for table in (REASONS, RESOLUTIONS, SHIPPINGS, NOT_A_SLOT)
        for value, pattern in table.patterns
        for found in pattern.finditer(text)
    ]
    # A phrase inside a longer phrase of another meaning is part of it ("partial refund", "gift card").
    return [
        hit
        for hit in hits
        if not any(
            other is not hit
            and other.start <= hit.start
            and hit.end <= other.end
            and other.end - other.start > hit.end - hit.start
            for other in hits
        )
    ]


def _choose(hits: list[_Hit], kind: str, rank: dict | None = None):  # type: ignore[no-untyped-def]
    chosen = [hit for hit in hits if hit.kind == kind]
    if not chosen:
        return None
    best = max(chosen, key=lambda hit: ((rank or {}).get(hit.value, 0), hit.start))
    return best.value


# --- items --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    text: str
    weight: float


@dataclass(frozen=True)
class _Profile:
    words: tuple[_Token, ...]  # single words: name words and aliases
    phrases: tuple[tuple[str, re.Pattern[str], int, float], ...]  # several-word aliases: text, pattern, words, weight


HEAD, ALIAS, DISTINCT, WEAK = 1.0, 0.95, 0.95, 0.5
SIZE_TOKEN_RE = re.compile(r"\d+(?:in|mah|w|ft)")  # "27in", "20000mah", "65w": as good as a name word
THRESHOLD = 0.85
FUZZY = 0.9


@lru_cache(maxsize=512)
def _profile(name: str) -> _Profile:
    main = re.sub(r"\(.*?\)", " ", name)
    # A bare number in a name ("Fitness Watch 2") is read as a quantity in a message, never as the name.
    tokens = [t for t in _clean(name).split() if t not in (",", *lx.NAME_NOISE) and not t.isdigit()]
    main_tokens = [t for t in _clean(main).split() if t != ","]
    heads = [t for t in main_tokens if t.isalpha() and t not in lx.WEAK_NAME_WORDS]
    head = heads[-1] if heads else (main_tokens[-1] if main_tokens else "")
    words: dict[str, float] = {}
    for token in tokens:
        if token == head:
            weight = HEAD
        elif token in lx.WEAK_NAME_WORDS or not (token.isalpha() or SIZE_TOKEN_RE.fullmatch(token)):
            weight = WEAK
        else:
            weight = DISTINCT
        words[token] = max(weight, words.get(token, 0.0))
    phrases: list[tuple[str, re.Pattern[str], int, float]] = []
    for alias in lx.PRODUCT_ALIASES.get(head, ()):
        if " " in alias:
            phrases.append((alias, re.compile(rf"\b{re.escape(alias)}\b"), len(alias.split()), ALIAS))
        else:
            words.setdefault(alias, ALIAS)
    return _Profile(tuple(_Token(t, w) for t, w in words.items()), tuple(phrases))


@lru_cache(maxsize=256)
def _catalog_words(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        word
        for name in names
        for word in (
            *(token.text for token in _profile(name).words),
            *(w for phrase in _profile(name).phrases for w in phrase[0].split()),
        )
    )


@lru_cache(maxsize=8192)
def _word_score(word: str, token: str) -> float:
    """How well one word of the message stands for one word of a product: 1 same, 0.9 a typo, 0 not."""
    if word == token:
        return 1.0
    if len(word) >= 4 and (word in (token + "s", token + "es") or token in (word + "s", word + "es")):
        return 1.0
    if word in lx.COMMON_WORDS or word in KEYWORDS or not word.isalpha() or word[0] != token[0]:
        return 0.0
    if min(len(word), len(token)) >= 4 and len(token) >= 4:
        return FUZZY if _osa(word, token, _typo_limit(token)) <= _typo_limit(token) else 0.0
    if len(word) == len(token) == 3 and sorted(word) == sorted(token) and _osa(word, token, 1) <= 1:
        return FUZZY
    return 0.0


@dataclass
class _Candidate:
    item: CatalogItem
    order: int
    score: float
    positions: set[int]


def _score_segment(
    words: list[str], positions: list[int], text_segment: str, catalog: Sequence[CatalogItem]
) -> list[_Candidate]:
    found = []
    for order, item in enumerate(catalog):
        profile = _profile(item.name)
        score = 0.0
        taken: set[int] = set()
        for phrase, pattern, length, weight in profile.phrases:
            at = pattern.search(text_segment) if phrase in text_segment else None
            if at:
                start_word = len(text_segment[: at.start()].split())
                span = set(range(start_word, start_word + length))
                if not span & taken:
                    score += weight
                    taken |= span
        for token in profile.words:
            best, best_at = 0.0, None
            initial = token.text[0]
            for index, word in enumerate(words):
                if word[0] != initial or index in taken:
                    continue
                match = _word_score(word, token.text)
                if match > best:
                    best, best_at = match, index
            if best_at is not None:
                score += best * token.weight
                taken.add(best_at)
        if score >= THRESHOLD:
            found.append(_Candidate(item, order, score, {positions[i] for i in taken}))
    found.sort(key=lambda candidate: (-candidate.score, candidate.order))
    return found


def _match_items(
    words: list[str], masked: set[int], catalog: Sequence[CatalogItem]
) -> list[tuple[CatalogItem, int, int]]:
    """(item, first word, last word) for each time the message names an item, in the order named."""
    segments: list[list[int]] = [[]]
    for index, word in enumerate(words):
        if word in SEGMENT_BREAKS:
            segments.append([])
        elif index not in masked:
            segments[-1].append(index)
    chosen: list[tuple[CatalogItem, int, int]] = []
    for segment in segments:
        if not segment:
            continue
        segment_words = [words[i] for i in segment]
        candidates = _score_segment(segment_words, segment, " ".join(segment_words), catalog)
        if not candidates:
            continue
        kept = [candidates[0]]
        used = set(candidates[0].positions)
        for candidate in candidates[1:]:
            if candidate.score >= HEAD and not candidate.positions & used:
                kept.append(candidate)
                used |= candidate.positions
        chosen += [(candidate.item, min(candidate.positions), max(candidate.positions)) for candidate in kept]
    return sorted(chosen, key=lambda found: found[1])


def _number(word: str) -> int | None:
    if word.isdigit() and 0 < int(word) <= 20:
        return int(word)
    return lx.NUMBER_WORDS.get(word)


def _quantity_around(words: list[str], first: int, last: int) -> tuple[int | None, bool]:
    """The quantity said just before an item ("2 of the hubs", "both hubs", "all 3 watches", "one of the three
    thermostats") or after ("hub x2")."""
    quantity, all_units, partitive = None, False, False
    index, looked = first - 1, 0
    while index >= 0 and looked < 5 and words[index] not in SEGMENT_BREAKS:
        word = words[index]
        if word in lx.ALL_WORDS:
            all_units = True
            break
        number = _number(word)
        if number is not None:
            if quantity is not None and not partitive:
                break
            quantity = number  # in "one of the three", the part
        elif word == "of":
            partitive = quantity is not None
        elif word not in QUANTITY_SKIP:
            break
        index -= 1
        looked += 1
    if quantity is None and last + 1 < len(words) and re.fullmatch(r"x\d{1,2}", words[last + 1]):
        quantity = _number(words[last + 1][1:])
    return (None, True) if all_units else (quantity, False)


def _bare_quantity(words: list[str]) -> int | None:
    """A number of units said alone ("just the one", "all 3", "x2"), or as the first clause of an answer that
    goes on ("2 of them , refund please", "both , neither works")."""
    quantity = _quantity_alone(words)
    breaks = [index for index, word in enumerate(words) if word in (",", "and")]
    if quantity is None and breaks:
        quantity = _quantity_alone(words[: breaks[0]])
    return quantity


def _quantity_alone(words: list[str]) -> int | None:
    rest = [w for w in words if w not in QUANTITY_FILLER or w == "one"]
    if len(rest) == 1 and re.fullmatch(r"x\d{1,2}", rest[0]):
        rest = [rest[0][1:]]
    if len(rest) == 3 and rest[1] == "out" and _number(rest[2]) is not None:  # "2 out of 3"
        rest = rest[:1]
    if len(rest) == 2 and _number(rest[0]) is not None and _number(rest[1]) is not None:  # "one of the two"
        rest = rest[:1]
    if rest == ["one"] or (not rest and "one" in words):
        return 1
    if len(rest) == 2 and rest[0] in lx.ALL_WORDS:  # "all 3", "both two"
        rest = rest[1:]
    if len(rest) == 1:
        if rest[0] == "both":
            return 2
        return _number(rest[0])
    if len(rest) == 2 and rest[0] == "a" and rest[1] in ("couple", "pair"):
        return 2
    return None


def _all_after(words: list[str], last: int, following: int) -> bool:
    """ "both"/"all" said right after the item, before anything else is named ("the routers - both , ...")."""
    index = last + 1
    while index < following and words[index] == ",":
        index += 1
    if index >= following:
        return False
    rest = words[index + 1 : index + 2]
    return words[index] == "both" or (
        words[index] == "all" and (not rest or rest[0] in (",", "of", "please") or _number(rest[0]) is not None)
    )


def _quantity_to(text: str) -> int | None:
    """A quantity set in words ("change the quantity to 2", "make it 3")."""
    found = QUANTITY_TO_RE.search(text)
    return _number(found.group("a") or found.group("b")) if found else None


def _pronoun_quantity(text: str) -> tuple[int | None, bool] | None:
    """A quantity said of "them" ("both of them", "all 3 of them", "just one of them"), for the one item named:
    (quantity, all units), or None when nothing usable was said."""
    found = PRONOUN_QUANTITY_RE.search(text)
    if found is None:
        return None
    said = found.group("said")
    if said.split()[0] in lx.ALL_WORDS or said == "every one":
        return None, True
    number = _number(said)  # "0 of them", "25 of them" say nothing usable
    return (number, False) if number is not None else None


def _mentions(words: list[str], text: str, named: list[tuple[CatalogItem, int, int]]) -> tuple[ItemMention, ...]:
    """One mention per item named, in the order first named. An item named twice takes the quantity said with
    either ("the wrong bulbs , ... return 2 of the 4 packs"); the only item named takes one said of "them"."""
    said: dict[str, ItemMention] = {}
    for index, (item, first, last) in enumerate(named):
        quantity, all_units = _quantity_around(words, first, last)
        if quantity is None and not all_units:
            following = named[index + 1][1] if index + 1 < len(named) else len(words)
            all_units = _all_after(words, last, following)
        known = said.get(item.sku)
        if known is None or (known.quantity is None and not known.all_units):
            said[item.sku] = ItemMention(item.sku, quantity, all_units)
    mentions = tuple(said.values())
    if len(mentions) == 1 and mentions[0].quantity is None and not mentions[0].all_units:
        pronoun = _pronoun_quantity(text)
        if pronoun is not None:
            mentions = (ItemMention(mentions[0].sku, pronoun[0], pronoun[1]),)
    return mentions


# --- intent -------------------------------------------------------------------------------------------------------
STATUS_CLAUSE_BREAK_RE = re.compile(r" , | but | so | because ")


def _is_status(text: str) -> bool:
    """A status phrase, or a return/refund named in the same clause as a status cue: "when will my refund come"
    asks, "the monitor arrived cracked , want my money back" does not."""
    if STATUS_RE.search(text):
        return True
    return any(
        STATUS_OBJECT_RE.search(clause) and STATUS_CUE_RE.search(clause)
        for clause in STATUS_CLAUSE_BREAK_RE.split(text)
    )


def _is_question(words: list[str], raw: str) -> bool:
    return raw.rstrip().rstrip(")(:;-* ").endswith("?") or (bool(words) and words[0] in lx.QUESTION_STARTS)


def _is_policy(text: str, words: list[str], raw: str) -> bool:
    if STRONG_POLICY_RE.search(text):
        return True
    return _is_question(words, raw) and bool(POLICY_RE.search(text))


def _starts_return(text: str, hits: list[_Hit], has_shipping: bool) -> bool:
    for found in START_RE.finditer(text):
        # "drop it back at the shop", "give me my money back": how it goes back, or what they want for it.
        inside_slot = any(
            hit.kind in ("shipping", "resolution") and hit.start < found.end() and found.start() < hit.end
            for hit in hits
        )
        if inside_slot:
            continue
        # "I'll take it back there", "return it at the shop": how it goes back, not which return.
        if has_shipping and re.match(
            r"(take|taking|bring|return(s|ed|ing)? (it|them)\b)", found.group(0) + text[found.end() :]
        ):
            continue
        return True
    return False


def _intent(
    text: str, words: list[str], raw: str, hits: list[_Hit], has_items: bool, has_order: bool, has_slots: bool
) -> Intent:
    has_shipping = any(hit.kind == "shipping" for hit in hits)
    first = words[0] if words else ""
    if HUMAN_RE.search(text):
        return Intent.HUMAN
    if START_OVER_RE.search(text):
        return Intent.START_OVER
    if STRONG_CANCEL_RE.search(text) or (CANCEL_RE.search(text) and not has_slots):
        return Intent.CANCEL
    if _is_status(text):
        return Intent.RETURN_STATUS
    if _is_policy(text, words, raw):
        return Intent.POLICY_QUESTION
    # "instead" changes a choice ("make it a pickup instead"), unless it explains a return ("got red instead").
    explains = any(hit.kind == "reason" for hit in hits) or START_RE.search(text)
    weak_change = INSTEAD_RE.search(text) and not explains
    if (
        CHANGE_RE.search(text)
        or weak_change
        or (first in ("actually", "wait", "hmm", "oh") and "actually" in words and has_slots)
    ):
        return Intent.CHANGE
    if (first in lx.YES_FIRST or YES_RE.search(text)) and not CONFIRM_VERB_RE.search(text):
        # "ok thanks" closes the conversation; it answers no question.
        return Intent.THANKS if THANKS_RE.search(text) and not has_slots else Intent.YES
    if CONFIRM_RE.search(text) or text in lx.CONFIRM_WHOLE:
        return Intent.CONFIRM
    if (first in lx.NO_FIRST and (len(words) == 1 or words[1] == "," or not has_slots)) or NO_RE.search(text):
        return Intent.THANKS if DONE_RE.search(text) and not has_slots else Intent.NO  # "no, that's all"
    if has_items or has_order or _starts_return(text, hits, has_shipping):
        return Intent.START_RETURN
    if THANKS_RE.search(text) and not has_slots:  # "just 1 thanks" answers the question
        return Intent.THANKS
    if HELP_RE.search(text):
        return Intent.HELP
    if GREETING_RE.search(text):
        return Intent.GREETING
    return Intent.UNKNOWN


# The trained model's say (chosen by cross-validation over authors, tests/chat/engine/data/README.md): how sure it
# must be, and which of the tables' intents it may correct to which.
REASON_GATE = 0.7
INTENT_GATE = 0.85
SECOND_READING_INTENTS: dict[Intent, tuple[str, ...]] = {
    # A return verb inside a question about an existing return or about the rules.
    Intent.START_RETURN: (Intent.RETURN_STATUS.value, Intent.POLICY_QUESTION.value),
    # Nothing the tables know, said by someone who is lost, wants a person, or wants to stop.
    Intent.UNKNOWN: tuple(
        intent.value for intent in (Intent.HELP, Intent.HUMAN, Intent.START_OVER, Intent.CANCEL, Intent.POLICY_QUESTION)
    ),
}


# --- the whole message --------------------------------------------------------------------------------------------
def read_message(text: str, catalog: Sequence[CatalogItem]) -> tuple[str | None, str]:
    """The order number a message names, and the rest of it normalised against the customer's catalog."""
    order_id, rest = _find_order(text)
    return order_id, normalise(rest, _catalog_words(tuple(item.name for item in catalog)))


def _second_reading(
    model: classifier.Model | None, clean: str, intent: Intent, *, has_slots: bool, question: bool, want_reason: bool
) -> tuple[Intent, Reason | None]:
    """What the trained model (``classifier.py``) adds to the tables' reading: the reason it reads in a return or
    an answer (asked for, where the tables found none), and an intent only where the tables fell back on their
    weakest cue and the model is sure (``SECOND_READING_INTENTS``): "I sent the hub back last week, no refund
    yet" asks about a return. Its other corrections lost more than they won in cross-validation over authors
    the tables never saw."""
    if model is None:
        return intent, None
    found = classifier.features(clean)
    corrections = SECOND_READING_INTENTS.get(intent, ())
    if corrections and not (intent is Intent.UNKNOWN and has_slots):
        label, sure = model.intent.predict(found)
        # "I want to return some items" or "quick answers" is no question about the rules, however sure it is.
        asks_rules = label == Intent.POLICY_QUESTION.value
        if sure >= INTENT_GATE and label in corrections and (question or not asks_rules):
            intent = Intent(label)
    guess = None
    if want_reason and intent in (Intent.START_RETURN, Intent.UNKNOWN):
        label, sure = model.reason.predict(found)
        if label != classifier.NO_REASON and sure >= REASON_GATE:
            guess = Reason(label)
    return intent, guess


TRAINED = "trained"  # understand()'s default model: the one trained and committed (classifier.MODEL_PATH)


def understand(
    text: str, catalog: Sequence[CatalogItem], *, model: classifier.Model | Literal["trained"] | None = TRAINED
) -> Understanding:
    """What ``text`` says, read against the customer's ``catalog``; ``model`` None reads with the tables alone."""
    raw = text or ""
    order_id, clean = read_message(raw, catalog)
    words = clean.split()
    if not [w for w in words if w != ","] and not order_id:
        return Understanding(Intent.UNKNOWN)

    hits = [hit for hit in _slot_hits(clean) if not _negated(clean, hit)]
    reason = _choose(hits, "reason", lx.REASON_RANK)
    resolution = _choose(hits, "resolution")
    shipping = _choose(hits, "shipping", lx.SHIPPING_RANK)

    # Words a slot phrase explains are not item names ("refund to my bank", "keys are stuck").
    masked = {
        len(clean[: hit.start].split()) + offset
        for hit in hits
        for offset in range(len(clean[hit.start : hit.end].split()))
    }
    mentions = _mentions(words, clean, _match_items(words, masked, catalog))
    all_units = bool(ALL_UNITS_RE.search(clean)) and not ALL_EXCEPTIONS_RE.search(clean)
    quantity = None if mentions else (_bare_quantity(words) or _quantity_to(clean))

    has_slots = bool(mentions or reason or resolution or shipping or quantity)
    intent = _intent(clean, words, raw, hits, bool(mentions), bool(order_id), has_slots)
    intent, guess = _second_reading(
        classifier.load_model() if model == TRAINED else model,
        clean,
        intent,
        has_slots=has_slots,
        question=_is_question(words, raw),
        want_reason=reason is None,
    )
    reason = reason or guess
    if intent is Intent.CANCEL:
        mentions = ()  # "I'll keep the hubs": the item is what stays, not what goes back
    if intent in (Intent.RETURN_STATUS, Intent.POLICY_QUESTION):
        # "status of my refund", "how long does a refund take?" ask; they are not choosing a resolution.
        reason = resolution = shipping = None
    return Understanding(
        intent=intent,
        order_id=order_id,
        items=mentions,
        reason=reason,
        resolution=resolution,
        shipping=shipping,
        quantity=quantity,
        all_units=all_units,
        policy_topic=raw.strip() if intent is Intent.POLICY_QUESTION else None,
        reason_guessed=guess is not None and reason is not None,  # a question's guess is dropped with its slots
    )
