"""Contract test: AzurePolicySearch through the real azure-search-documents SDK against our fake of the
Azure AI Search REST API (the real service cannot run here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import HttpResponseError

from customers.search.azure import AzurePolicySearch
from customers.search.documents import all_documents
from tests.customers.search.fake_azure_search import FakeAzureSearch

KEY = "fake-admin-key"


@pytest.fixture
def fake() -> Iterator[FakeAzureSearch]:
    server = FakeAzureSearch(api_key=KEY)
    yield server
    server.close()


@pytest.fixture
def search(fake: FakeAzureSearch) -> AzurePolicySearch:
    azure = AzurePolicySearch(fake.endpoint, "returns-policies", KEY)
    azure.index(all_documents())
    return azure


def test_index_is_created_with_our_fields_and_documents_uploaded(fake, search):
    definition = fake.indexes["returns-policies"]
    fields = {f["name"]: f for f in definition["fields"]}
    assert fields["id"]["key"] is True and fields["category"]["filterable"] is True
    assert fields["title"]["searchable"] is True and fields["body"]["searchable"] is True
    assert set(fake.documents["returns-policies"]) == {doc.id for doc in all_documents()}
    upload = next(r for r in fake.requests if r["path"].endswith("/docs/search.index"))
    assert {action["@search.action"] for action in upload["body"]["value"]} == {"upload"}
    assert all(r["headers"].get("api-key") == KEY and r["query"].get("api-version") for r in fake.requests)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("is there a restocking fee?", "restocking-fee"),
        ("store credit bonus", "store-credit"),
        ("gift return", "gift-returns"),
    ],
)
def test_search_sends_the_question_and_maps_hits(fake, search, question, expected):
    hits = search.search(question, top=3)
    assert expected in [hit.id for hit in hits]
    assert all(hit.title and hit.body and hit.snippet and hit.score > 0 for hit in hits)
    request = fake.requests[-1]
    assert request["path"] == "/indexes('returns-policies')/docs/search.post.search"
    assert request["body"]["search"] == question and request["body"]["top"] == 3
    assert request["body"]["highlight"] == "body"


def test_empty_questions_do_not_call_the_service(fake, search):
    calls = len(fake.requests)
    assert search.search("   ") == []
    assert len(fake.requests) == calls


@pytest.mark.parametrize("status", [401, 403, 503])
def test_service_errors_surface_as_http_response_errors(fake, search, status):
    fake.fail_with = status
    with pytest.raises(HttpResponseError) as error:
        search.search("restocking fee")
    assert error.value.status_code == status


def test_a_wrong_key_is_refused(fake):
    with pytest.raises(HttpResponseError):
        AzurePolicySearch(fake.endpoint, "returns-policies", "wrong-key").index(all_documents())


def test_policy_search_uses_azure_when_configured(fake, settings, monkeypatch):
    import customers.search as search_module

    settings.AZURE_SEARCH_ENDPOINT = fake.endpoint
    settings.AZURE_SEARCH_KEY = KEY
    monkeypatch.setattr(search_module, "_instance", None)
    chosen = search_module.policy_search()
    assert isinstance(chosen, AzurePolicySearch)
    assert chosen.search("restocking fee")[0].id == "restocking-fee"
    monkeypatch.setattr(search_module, "_instance", None)
