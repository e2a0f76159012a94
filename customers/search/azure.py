"""Policy search on Azure AI Search (``azure-search-documents``), used when AZURE_SEARCH_ENDPOINT is set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core.credentials import AzureKeyCredential
from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from azure.search.documents.indexes.models import (
    SearchableField,
    SearchFieldDataType,
    SearchIndex,
    SimpleField,
)

from customers.search.base import PolicyDocument, PolicySearch, SearchHit


def search_credential(key: str) -> Any:
    """An admin key when given, else Entra ID (DefaultAzureCredential)."""
    if key:
        return AzureKeyCredential(key)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class AzurePolicySearch(PolicySearch):
    def __init__(self, endpoint: str, index_name: str, key: str = "") -> None:
        credential = search_credential(key)
        self.index_name = index_name
        self._indexes = SearchIndexClient(endpoint, credential)
        self._client = SearchClient(endpoint, index_name, credential)

    def index(self, documents: Sequence[PolicyDocument]) -> None:
        """Create or update the index, then upload the documents (upload replaces documents with the same id)."""
        fields = [
            SimpleField(name="id", type=SearchFieldDataType.STRING, key=True),
            SearchableField(name="title"),
            SimpleField(name="category", type=SearchFieldDataType.STRING, filterable=True),
            SearchableField(name="body"),
        ]
        self._indexes.create_or_update_index(SearchIndex(name=self.index_name, fields=fields))
        self._client.upload_documents(
            documents=[{"id": d.id, "title": d.title, "category": d.category, "body": d.body} for d in documents]
        )

    def search(self, query: str, top: int = 3) -> list[SearchHit]:
        text = " ".join((query or "").split())[:1000]
        if not text:
            return []
        results = self._client.search(
            search_text=text,
            top=max(1, min(top, 20)),
            highlight_fields="body",
            select=["id", "title", "category", "body"],
        )
        hits = []
        for row in results:
            highlights = (row.get("@search.highlights") or {}).get("body") or []
            snippet = " … ".join(highlights) if highlights else row["body"][:200]
            hits.append(
                SearchHit(row["id"], row["title"], row["category"], snippet, row["body"], float(row["@search.score"]))
            )
        return hits
