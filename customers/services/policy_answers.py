"""Which policy passages answer a customer's question."""

from __future__ import annotations

import re
from dataclasses import replace

from django.utils import translation

from customers.policy import ReturnPolicy
from customers.search import SearchHit, policy_search
from customers.search.documents import all_documents, is_catalog_document

_WORD = re.compile(r"[a-z0-9]+")
_NOT_A_NAME = {"return", "window"}  # the catalog passages' titles end "<product> return window"


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def policy_hits(question: str, policy: ReturnPolicy, top: int = 3) -> list[SearchHit]:
    """The best passages of the policy in force for ``question``, best first.

    A product's own line answers only a question that names the product: "can opened items be returned?" is a
    question about the policy, which "Open-Box Earbuds: final sale" (found through "open") does not answer.
    """
    asked = _words(question)
    hits = policy_search(policy).search(question[:500], top=top + 5)
    kept = [hit for hit in hits if not is_catalog_document(hit.id) or asked & (_words(hit.title) - _NOT_A_NAME)]
    return _in_customers_language(kept[:top], policy)


def _in_customers_language(hits: list[SearchHit], policy: ReturnPolicy) -> list[SearchHit]:
    """The passages found (searched in English) as the active language writes them."""
    if (translation.get_language() or "en").split("-")[0] == "en":
        return hits
    written = {document.id: document for document in all_documents(policy)}
    return [
        replace(hit, title=written[hit.id].title, body=written[hit.id].body) if hit.id in written else hit
        for hit in hits
    ]
