"""Semantic product lookup on Azure AI Search: "that big screen" -> the customer's Ultra HD Smart Display.

Used when ``AZURE_SEARCH_ENDPOINT`` and an embedding deployment (``AZURE_OPENAI_EMBEDDING_DEPLOYMENT`` on
``AZURE_OPENAI_ENDPOINT``) are configured; offline, the guided engine's own fuzzy and embedded semantic matching
(``chat.engine.understanding``) does this. The catalog index holds each product's name and category with a vector
of its description; queries are hybrid (keywords + ``VectorizableTextQuery``, which the service vectorizes with the
index's Azure OpenAI vectorizer) and filtered to the SKUs on the customer's orders, so a match is always one of
their own lines. ``python manage.py index_search`` pushes the catalog (and the policies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from azure.search.documents import SearchClient
from azure.search.documents.indexes import SearchIndexClient
from azure.search.documents.indexes.models import (
    AzureOpenAIVectorizer,
    AzureOpenAIVectorizerParameters,
    HnswAlgorithmConfiguration,
    SearchableField,
    SearchField,
    SearchFieldDataType,
    SearchIndex,
    SimpleField,
    VectorSearch,
    VectorSearchProfile,
)
from azure.search.documents.models import VectorizableTextQuery

from customers.domain import Product
from customers.search.azure import search_credential

VECTOR_FIELD = "name_vector"
PROFILE = "catalog-profile"
VECTORIZER = "catalog-vectorizer"

Embed = Callable[[list[str]], list[list[float]]]


@dataclass(frozen=True)
class CatalogMatch:
    sku: str
    name: str
    score: float


def describe(product: Product) -> str:
    """What a product's vector is made from: its name and what kind of thing it is."""
    return f"{product.name} ({product.category})"


def _odata_list(values: Sequence[str]) -> str:
    return ",".join(value.replace("'", "''").replace(",", "") for value in values)


class AzureCatalogSearch:
    def __init__(
        self,
        endpoint: str,
        index_name: str,
        key: str,
        *,
        openai_endpoint: str,
        embedding_deployment: str,
        embedding_model: str,
        dimensions: int,
        embed: Embed,
    ) -> None:
        credential = search_credential(key)
        self.index_name = index_name
        self.openai_endpoint = openai_endpoint
        self.embedding_deployment = embedding_deployment
        self.embedding_model = embedding_model
        self.dimensions = dimensions
        self.embed = embed
        self._indexes = SearchIndexClient(endpoint, credential)
        self._client = SearchClient(endpoint, index_name, credential)

    def index(self, products: Sequence[Product]) -> int:
        """Create or update the index (vector field, HNSW profile, Azure OpenAI vectorizer for queries) and upload
        every product with its vector. Returns how many were uploaded."""
        fields = [
            SimpleField(name="id", type=SearchFieldDataType.STRING, key=True, filterable=True),
            SearchableField(name="name"),
            SearchableField(name="category", filterable=True),
            SearchField(
                name=VECTOR_FIELD,
                type=SearchFieldDataType.Collection(SearchFieldDataType.Single),
                searchable=True,
                vector_search_dimensions=self.dimensions,
                vector_search_profile_name=PROFILE,
            ),
        ]
        vector_search = VectorSearch(
            algorithms=[HnswAlgorithmConfiguration(name="catalog-hnsw")],
            profiles=[
                VectorSearchProfile(
                    name=PROFILE, algorithm_configuration_name="catalog-hnsw", vectorizer_name=VECTORIZER
                )
            ],
            vectorizers=[
                AzureOpenAIVectorizer(
                    vectorizer_name=VECTORIZER,
                    parameters=AzureOpenAIVectorizerParameters(
                        resource_url=self.openai_endpoint,
                        deployment_name=self.embedding_deployment,
                        model_name=self.embedding_model,
                    ),
                )
            ],
        )
        self._indexes.create_or_update_index(
            SearchIndex(name=self.index_name, fields=fields, vector_search=vector_search)
        )
        vectors = self.embed([describe(product) for product in products])
        documents = [
            {"id": product.sku, "name": product.name, "category": product.category, VECTOR_FIELD: vector}
            for product, vector in zip(products, vectors, strict=True)
        ]
        self._client.upload_documents(documents=documents)
        return len(documents)

    def match(self, text: str, skus: Sequence[str], top: int = 3) -> list[CatalogMatch]:
        """The customer's own products that ``text`` most likely means, best first."""
        text = " ".join((text or "").split())[:500]
        if not text or not skus:
            return []
        results = self._client.search(
            search_text=text,
            vector_queries=[VectorizableTextQuery(text=text, k_nearest_neighbors=10, fields=VECTOR_FIELD)],
            filter=f"search.in(id, '{_odata_list(skus)}', ',')",
            select=["id", "name"],
            top=max(1, min(top, 10)),
        )
        return [CatalogMatch(row["id"], row["name"], float(row["@search.score"])) for row in results]


def azure_embedder(endpoint: str, deployment: str, api_key: str, dimensions: int) -> Embed:
    """Embeddings from Azure OpenAI (key, else Entra ID), in batches, for pushing the catalog."""
    from openai import AzureOpenAI

    if api_key:
        client = AzureOpenAI(azure_endpoint=endpoint, api_key=api_key, api_version="2024-10-21")
    else:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        provider = get_bearer_token_provider(DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")
        client = AzureOpenAI(azure_endpoint=endpoint, azure_ad_token_provider=provider, api_version="2024-10-21")

    def embed(texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 64):
            answer = client.embeddings.create(model=deployment, input=texts[start : start + 64], dimensions=dimensions)
            vectors += [row.embedding for row in sorted(answer.data, key=lambda row: row.index)]
        return vectors

    return embed


_cached: dict[tuple[str, ...], AzureCatalogSearch] = {}


def catalog_search() -> AzureCatalogSearch | None:
    """The configured catalog search (made once per process and configuration), or None offline (the guided
    engine's own matching is then used)."""
    from django.conf import settings

    key = (
        settings.AZURE_SEARCH_ENDPOINT,
        settings.AZURE_SEARCH_CATALOG_INDEX,
        settings.AZURE_OPENAI_ENDPOINT,
        settings.AZURE_OPENAI_EMBEDDING_DEPLOYMENT,
        str(settings.AZURE_OPENAI_EMBEDDING_DIMENSIONS),
    )
    if key not in _cached:
        made = _configured_catalog_search()
        if made is None:
            return None
        _cached[key] = made
    return _cached[key]


def _configured_catalog_search() -> AzureCatalogSearch | None:
    from django.conf import settings

    if not (
        settings.AZURE_SEARCH_ENDPOINT and settings.AZURE_OPENAI_ENDPOINT and settings.AZURE_OPENAI_EMBEDDING_DEPLOYMENT
    ):
        return None
    dimensions = settings.AZURE_OPENAI_EMBEDDING_DIMENSIONS
    return AzureCatalogSearch(
        settings.AZURE_SEARCH_ENDPOINT,
        settings.AZURE_SEARCH_CATALOG_INDEX,
        settings.AZURE_SEARCH_KEY,
        openai_endpoint=settings.AZURE_OPENAI_ENDPOINT,
        embedding_deployment=settings.AZURE_OPENAI_EMBEDDING_DEPLOYMENT,
        embedding_model=settings.AZURE_OPENAI_EMBEDDING_MODEL,
        dimensions=dimensions,
        embed=azure_embedder(
            settings.AZURE_OPENAI_ENDPOINT,
            settings.AZURE_OPENAI_EMBEDDING_DEPLOYMENT,
            settings.AZURE_OPENAI_API_KEY,
            dimensions,
        ),
    )
