"""Policy and catalog search: one interface; Azure AI Search when configured, an embedded index otherwise."""

from __future__ import annotations

import threading

from django.utils import translation

from customers.policy import DEFAULT_POLICY, ReturnPolicy
from customers.search.base import PolicySearch, SearchHit
from customers.search.documents import all_documents

__all__ = ["PolicySearch", "SearchHit", "policy_search"]

_lock = threading.Lock()
_instance: PolicySearch | None = None
_indexed_for: ReturnPolicy | None = None


def policy_search(policy: ReturnPolicy = DEFAULT_POLICY) -> PolicySearch:
    """The process's search (Azure AI Search when configured, else the embedded one), indexed with the figures of
    ``policy``: when an admin changes a fee or a window, the next answer quotes the new value, as the quotes do."""
    global _instance, _indexed_for
    with _lock:
        if _instance is None:
            _instance, _indexed_for = _configured_search(), None
        if _indexed_for != policy:
            with translation.override("en"):  # searched in English; answers are shown in the customer's language
                _instance.index(all_documents(policy))
            _indexed_for = policy
        return _instance


def _configured_search() -> PolicySearch:
    from django.conf import settings

    if settings.AZURE_SEARCH_ENDPOINT:
        from customers.search.azure import AzurePolicySearch

        return AzurePolicySearch(settings.AZURE_SEARCH_ENDPOINT, settings.AZURE_SEARCH_INDEX, settings.AZURE_SEARCH_KEY)
    from customers.search.local import LocalPolicySearch

    return LocalPolicySearch()
