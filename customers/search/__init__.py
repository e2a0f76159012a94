"""Policy and catalog search: one interface; Azure AI Search when configured, an embedded index otherwise."""

from __future__ import annotations

import threading

from customers.search.base import PolicySearch, SearchHit
from customers.search.documents import all_documents

__all__ = ["PolicySearch", "SearchHit", "policy_search"]

_lock = threading.Lock()
_instance: PolicySearch | None = None


def policy_search() -> PolicySearch:
    """The process's search, built and indexed once: Azure AI Search when configured, else the embedded one."""
    global _instance
    with _lock:
        if _instance is None:
            _instance = _configured_search()
            _instance.index(all_documents())
        return _instance


def _configured_search() -> PolicySearch:
    from django.conf import settings

    if settings.AZURE_SEARCH_ENDPOINT:
        from customers.search.azure import AzurePolicySearch

        return AzurePolicySearch(settings.AZURE_SEARCH_ENDPOINT, settings.AZURE_SEARCH_INDEX, settings.AZURE_SEARCH_KEY)
    from customers.search.local import LocalPolicySearch

    return LocalPolicySearch()
