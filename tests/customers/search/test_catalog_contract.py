"""Contract test: semantic product lookup through the real azure-search-documents and openai SDKs, against our
fakes of the Azure AI Search REST API and Azure OpenAI's embeddings (neither service can run here). What is
checked is the wire format: the index definition (vector field, HNSW profile, Azure OpenAI vectorizer), the
uploaded vectors, and a hybrid query with a VectorizableTextQuery filtered to the customer's own SKUs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from customers.demo import PRODUCTS
from customers.search.catalog import VECTOR_FIELD, catalog_search, describe
from tests.chat.engine.llm.fake_openai import FakeOpenAI, fake_vector
from tests.customers.search.fake_azure_search import FakeAzureSearch

KEY = "fake-admin-key"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeAzureSearch, FakeOpenAI]]:
    search = FakeAzureSearch(api_key=KEY)
    with FakeOpenAI() as openai:
        yield search, openai
    search.close()


@pytest.fixture
def azure(settings, fakes):  # type: ignore[no-untyped-def]
    search, openai = fakes
    settings.AZURE_SEARCH_ENDPOINT = search.endpoint
    settings.AZURE_SEARCH_KEY = KEY
    settings.AZURE_OPENAI_ENDPOINT = openai.url
    settings.AZURE_OPENAI_API_KEY = "aoai-key"
    settings.AZURE_OPENAI_EMBEDDING_DEPLOYMENT = "embed-small"
    settings.AZURE_OPENAI_EMBEDDING_DIMENSIONS = 64
    return settings


def test_offline_there_is_no_catalog_search(settings):
    settings.AZURE_SEARCH_ENDPOINT = ""
    assert catalog_search() is None


def test_the_catalog_index_carries_vectors_and_a_query_time_vectorizer(azure, fakes):
    search, openai = fakes
    catalog = catalog_search()
    assert catalog is not None
    assert catalog.index(PRODUCTS) == len(PRODUCTS)

    definition = search.indexes["returns-catalog"]
    fields = {field["name"]: field for field in definition["fields"]}
    assert fields[VECTOR_FIELD]["type"] == "Collection(Edm.Single)"
    assert fields[VECTOR_FIELD]["dimensions"] == 64 and fields[VECTOR_FIELD]["vectorSearchProfile"] == "catalog-profile"
    [vectorizer] = definition["vectorSearch"]["vectorizers"]
    assert vectorizer["kind"] == "azureOpenAI"
    assert vectorizer["azureOpenAIParameters"]["deploymentId"] == "embed-small"
    assert vectorizer["azureOpenAIParameters"]["resourceUri"] == openai.url

    # The vectors came from Azure OpenAI's embeddings route, one per product, as the index stores them.
    embed_calls = [r for r in openai.requests if r.path.endswith("/embeddings") or "/embeddings?" in r.path]
    assert embed_calls and embed_calls[0].path.startswith("/openai/deployments/embed-small/embeddings")
    assert embed_calls[0].headers["api-key"] == "aoai-key" and embed_calls[0].body["dimensions"] == 64
    hub = search.documents["returns-catalog"]["HUB-SMART-2"]
    assert hub[VECTOR_FIELD] == pytest.approx(fake_vector(describe(PRODUCTS[1]), 64))


def test_a_hybrid_query_is_limited_to_the_customers_own_products(azure, fakes):
    search, _ = fakes
    catalog = catalog_search()
    assert catalog is not None
    catalog.index(PRODUCTS)
    mine = ["DSP-UHD-55", "HUB-SMART-2", "CBL-USBC-6FT-3PK"]
    matches = catalog.match("the smart home hub thing", mine)
    assert matches and matches[0].sku == "HUB-SMART-2"
    assert all(match.sku in mine for match in matches)
    query = [r for r in search.requests if r["path"].endswith("search.post.search")][-1]["body"]
    assert query["search"] == "the smart home hub thing"
    assert query["vectorQueries"] == [
        {"kind": "text", "text": "the smart home hub thing", "k": 10, "fields": VECTOR_FIELD}
    ]
    assert query["filter"] == "search.in(id, 'DSP-UHD-55,HUB-SMART-2,CBL-USBC-6FT-3PK', ',')"
    assert catalog.match("the smart home hub", []) == [] and catalog.match("   ", mine) == []


async def test_index_search_pushes_policies_and_the_catalog_from_cosmos(azure, fakes, repo, services_settings):
    import subprocess
    import sys

    from tests.customers.seeded import seed
    from tests.processes import ROOT

    await seed(repo)
    search, openai = fakes
    env = {
        "AZURE_SEARCH_ENDPOINT": search.endpoint,
        "AZURE_SEARCH_KEY": KEY,
        "AZURE_OPENAI_ENDPOINT": openai.url,
        "AZURE_OPENAI_API_KEY": "aoai-key",
        "AZURE_OPENAI_DEPLOYMENT": "chat",
        "AZURE_OPENAI_EMBEDDING_DEPLOYMENT": "embed-small",
        "COSMOS_ENDPOINT": services_settings.COSMOS_ENDPOINT,
        "COSMOS_KEY": services_settings.COSMOS_KEY,
        "COSMOS_DATABASE": services_settings.COSMOS_DATABASE,
        "COSMOS_VERIFY_TLS": "false",
    }
    import os

    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "index_search"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(PRODUCTS)} products pushed to returns-catalog with their vectors." in done.stdout
    assert set(search.documents["returns-catalog"]) == {product.sku for product in PRODUCTS}
    assert "policies pushed to returns-policies" in done.stdout


def test_index_search_without_azure_says_why(settings):
    from django.core.management import CommandError, call_command

    settings.AZURE_SEARCH_ENDPOINT = ""
    with pytest.raises(CommandError, match="AZURE_SEARCH_ENDPOINT is not set"):
        call_command("index_search")
