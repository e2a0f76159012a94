"""Policy and catalog search: one interface; Azure AI Search when configured, an embedded index otherwise."""

from __future__ import annotations

import threading

from customers.search.base import PolicySearch, SearchHit
from customers.search.documents import all_documents

__all__ = ["PolicySearch", "SearchHit", "policy_search"]

_lock = threading.Lock()
_instance: PolicySearch | None = None


def policy_search() -> PolicySearch:
    """The process's search, built and indexed once (the embedded index takes milliseconds to build)."""
    global _instance
    with _lock:
        if _instance is None:
            from customers.search.local import LocalPolicySearch

            search = LocalPolicySearch()
            search.index(all_documents())
            _instance = search
        return _instance
