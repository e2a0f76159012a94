"""The embedded policy search: SQLite FTS5 with BM25 ranking, in memory, no network."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence

from customers.search.base import PolicyDocument, PolicySearch, SearchHit

STOP_WORDS = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "not",
    "near",
    "to",
    "of",
    "in",
    "on",
    "for",
    "is",
    "are",
    "do",
    "does",
    "i",
    "my",
    "me",
    "can",
    "you",
    "your",
    "what",
    "how",
    "when",
    "which",
    "it",
    "this",
    "that",
    "there",
    "with",
    "be",
    "have",
    "has",
    "if",
    "at",
    "by",
    "from",
    "we",
    "our",
    "any",
    "long",
    "much",
    "return",
    "returns",
    "returning",
    # the words of a question about time, which every policy's wording shares or none does
    "get",
    "got",
    "until",
    "will",
    "after",
    "take",
    "takes",
}
# The words customers use for the words our policies use.
SYNONYMS = {
    "tv": ["tvs", "television", "displays"],
    "television": ["tvs"],
    "screen": ["displays"],
    "fee": ["restocking"],
    "fees": ["restocking"],
    "money": ["refund", "refunds"],
    "arrive": ["business"],
    "credit": ["store"],
    "label": ["shipping", "prepaid"],
    "postage": ["shipping"],
    "clearance": ["final"],
    "broken": ["damaged", "defective"],
    "broke": ["damaged", "defective"],
    "faulty": ["defective"],
    "present": ["gift"],
    "swap": ["exchange", "exchanges"],
    "days": ["window"],
    "policy": ["window"],
}


class LocalPolicySearch(PolicySearch):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(doc_id UNINDEXED, title, category, body, tokenize='porter unicode61')"
        )

    def index(self, documents: Sequence[PolicyDocument]) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM docs")
            self._db.executemany(
                "INSERT INTO docs (doc_id, title, category, body) VALUES (?, ?, ?, ?)",
                [(d.id, d.title, d.category, d.body) for d in documents],
            )

    @staticmethod
    def to_match_query(text: str) -> str | None:
        """Any user text as OR-ed quoted terms: FTS5 operators and punctuation lose their meaning."""
        words = re.findall(r"[a-z0-9]+", text.lower()[:2000])
        terms: list[str] = []
        for word in words:
            if word in STOP_WORDS or len(word) < 2:
                continue
            for term in (word, *SYNONYMS.get(word, [])):
                if term not in terms:
                    terms.append(term)
        return " OR ".join(f'"{term}"' for term in terms[:32]) or None

    def search(self, query: str, top: int = 3) -> list[SearchHit]:
        match = self.to_match_query(query or "")
        if match is None:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, title, category, snippet(docs, 3, '', '', '…', 24), body, "
                "bm25(docs, 0.0, 4.0, 1.0, 1.0) AS rank FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?",
                (match, max(1, min(top, 20))),
            ).fetchall()
        return [SearchHit(row[0], row[1], row[2], row[3], row[4], -float(row[5])) for row in rows]
