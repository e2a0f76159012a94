"""What every policy search answers with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyDocument:
    id: str
    title: str
    category: str
    body: str


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str
    category: str
    snippet: str
    body: str
    score: float


class PolicySearch(ABC):
    @abstractmethod
    def index(self, documents: Sequence[PolicyDocument]) -> None: ...

    @abstractmethod
    def search(self, query: str, top: int = 3) -> list[SearchHit]:
        """Best matches first; any text at all is a valid query (never raises on user input)."""
