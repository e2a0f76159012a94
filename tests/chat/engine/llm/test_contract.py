"""Contract tests: the LLM engine against our fake server speaking the OpenAI Chat Completions wire protocol.

Azure OpenAI and OpenAI cannot be reached from here; ``fake_openai.FakeOpenAI`` answers as they do (SSE chunks, tool
calls, 429 with Retry-After, slow answers), so these tests check what our code sends and how it reads the answers:
streamed text, a tool that renders a widget, ``propose_return`` leading to a proposal with the rules' amounts,
retries, timeouts with the guided fallback, the circuit breaker, and the Azure routes with Entra ID.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from chatkit.types import ThreadItemUpdatedEvent

from chat import ownership
from chat.engine.llm import clients
from chat.engine.llm import engine as llm
from chat.widgets import Actions
from customers.models import Proposal
from tests.chat.conversation import Conversation
from tests.chat.engine.llm.fake_openai import FakeOpenAI, Step
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)

HUB = {
    "order_id": "ORD-79001",
    "items": [{"sku": "HUB-SMART-2", "quantity": 1}],
    "reason": "Damaged/Defective",
    "resolution": "Store Credit",
    "shipping": "Prepaid Shipping Label",
}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def llm_chat(repo, services_settings, fake, monkeypatch):  # type: ignore[no-untyped-def]
    """The chat on the LLM engine, its model at our fake OpenAI-compatible server (OPENAI_BASE_URL)."""
    services_settings.ASSISTANT_ENGINE = "llm"
    services_settings.OPENAI_API_KEY = "sk-test"
    services_settings.OPENAI_BASE_URL = f"{fake.url}/v1"
    services_settings.OPENAI_MODEL = "fake-model"
    services_settings.LLM_TIMEOUT_SECONDS = 2.0
    services_settings.LLM_MAX_RETRIES = 2
    monkeypatch.setattr(llm, "BREAKER", llm.CircuitBreaker())
    await seed(repo)
    return services_settings


async def test_text_streams_delta_by_delta_and_each_reply_is_its_own_item(llm_chat, fake):
    """Chat Completions names every message __fake_id__: our items get ids of their own, so two replies stay two."""
    fake.script(
        Step(text="Hello Robert! What would you like to return today?"), Step(text="Of course, take your time.")
    )
    chat = await Conversation.sign_in()
    events = await chat.say("hi")
    deltas = [e for e in events if isinstance(e, ThreadItemUpdatedEvent)]
    assert len(deltas) >= 5
    first = chat.done_items()[-1]
    await chat.say("hmm, let me think")
    second = chat.done_items()[-1]
    assert first.id != second.id and "__fake_id__" not in (first.id, second.id)
    assert ownership.item_in_thread(chat.thread_id, first.id) and ownership.item_in_thread(chat.thread_id, second.id)
    request = fake.requests[0]
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "fake-model" and request.body["stream"] is True
    assert {tool["function"]["name"] for tool in request.body["tools"]} >= {"propose_return", "returnable_items"}
    assert "returns assistant" in request.body["messages"][0]["content"]


async def test_a_tool_call_renders_the_same_widget_as_the_guided_flow(llm_chat, fake):
    fake.script(Step(tool_calls=[("returnable_items", {"order_id": "ORD-79001"})]), Step(text="Which one is it?"))
    chat = await Conversation.sign_in()
    await chat.say("something I bought is broken")
    assert chat.widget_keys() == ["items"] and "Which one is it?" in chat.text()
    tool_answer = next(m for m in fake.requests[1].body["messages"] if m["role"] == "tool")
    items = json.loads(tool_answer["content"])["items"]
    assert {"sku": "HUB-SMART-2", "days_left": 25} in [{"sku": i["sku"], "days_left": i["days_left"]} for i in items]


async def test_propose_return_shows_the_summary_and_confirming_files_the_rules_amounts(llm_chat, fake):
    wrong_amounts = {**HUB, "store_credit_cents": 100000}  # whatever the model adds, amounts come from the rules
    fake.script(Step(tool_calls=[("propose_return", wrong_amounts)]), Step(text="Please confirm the summary."))
    chat = await Conversation.sign_in()
    await chat.say("my smart home hub arrived damaged, store credit please, I'll print a label")
    assert chat.widget_keys() == ["summary"]
    await chat.click(Actions.CONFIRM, {})
    proposal = await Proposal.objects.aget()
    assert proposal.quote["store_credit_cents"] == 9899 and proposal.customer_id == "CUST-1001"
    assert len(fake.requests) == 2  # the click did not reach the model


async def test_429_is_retried_after_retry_after_then_succeeds(llm_chat, fake):
    fake.script(Step(status=429, retry_after=0.2), Step(text="Here I am."))
    chat = await Conversation.sign_in()
    await chat.say("hello?")
    assert "Here I am." in chat.text() and len(fake.requests) == 2


async def test_timeouts_fall_back_to_the_guided_assistant_and_then_the_breaker_opens(llm_chat, fake):
    llm_chat.LLM_MAX_RETRIES = 0
    llm_chat.LLM_TIMEOUT_SECONDS = 0.5
    fake.script(*[Step(text="too late", delay=2.0) for _ in range(3)])
    for _ in range(3):
        chat = await Conversation.sign_in()
        await chat.say("I want to return some items")
        assert "step by step" in chat.text() and chat.widget_keys() == ["customer", "items"]
    asked = len(fake.requests)
    chat = await Conversation.sign_in()
    await chat.say("I want to return some items")
    assert len(fake.requests) == asked  # during the cool-down the model is not asked at all
    assert chat.widget_keys() == ["customer", "items"] and "step by step" not in chat.text()


@pytest.mark.parametrize(("api_version", "path"), [("", "/openai/v1/chat/completions"), ("2025-04-01-preview", None)])
async def test_azure_openai_with_entra_id_sends_the_bearer_token(llm_chat, fake, monkeypatch, api_version, path):
    """No AZURE_OPENAI_API_KEY: the token comes from Entra ID (here a fake credential's provider)."""
    llm_chat.OPENAI_API_KEY = ""
    llm_chat.AZURE_OPENAI_ENDPOINT = fake.url
    llm_chat.AZURE_OPENAI_DEPLOYMENT = "returns-gpt"
    llm_chat.AZURE_OPENAI_API_KEY = ""
    llm_chat.OPENAI_API_VERSION = api_version
    scopes: list[str] = []

    def fake_entra() -> clients.TokenProvider:
        scopes.append(clients.COGNITIVE_SERVICES_SCOPE)

        async def token() -> str:
            return "entra-token-123"

        return token

    monkeypatch.setattr(clients, "entra_token_provider", fake_entra)
    fake.script(Step(text="Hi from Azure."))
    chat = await Conversation.sign_in()
    await chat.say("hello")
    assert "Hi from Azure." in chat.text()
    request = fake.requests[0]
    assert request.headers["authorization"] == "Bearer entra-token-123"
    assert scopes == ["https://cognitiveservices.azure.com/.default"]
    if api_version:
        assert request.path == f"/openai/deployments/returns-gpt/chat/completions?api-version={api_version}"
    else:
        assert request.path == path and request.body["model"] == "returns-gpt"


async def test_staff_see_which_engine_answered_and_the_tools_it_called(llm_chat, fake):
    from chat.models import AssistantTurn

    fake.script(
        Step(tool_calls=[("returnable_items", {"order_id": "ORD-79001"})]),
        Step(text="Which one?"),
        Step(status=500),
        Step(status=500),
        Step(status=500),
    )
    chat = await Conversation.sign_in()
    await chat.say("something broke")
    await chat.say("the hub")  # the model is down now: the guided engine answers this turn
    first, second = [turn async for turn in AssistantTurn.objects.filter(thread_id=chat.thread_id)]
    assert first.engine.startswith("llm: fake-model") and not first.fallback
    assert first.tool_calls == [{"tool": "returnable_items", "arguments": {"order_id": "ORD-79001"}}]
    assert len(first.item_ids) == 2  # the items card and the reply
    assert second.engine == "guided" and second.fallback.startswith("the model failed: InternalServerError")


async def test_a_conversation_goes_on_with_its_history_widgets_and_tool_results_included(llm_chat, fake):
    fake.script(
        Step(tool_calls=[("returnable_items", {"order_id": "ORD-79001"})]),
        Step(text="Which one?"),
        Step(text="The hub, got it. Why are you returning it?"),
        Step(tool_calls=[("propose_return", HUB)]),
        Step(text="Please confirm."),
    )
    chat = await Conversation.sign_in()
    await chat.say("something broke")
    await chat.say("the hub")
    await chat.say("it arrived cracked, store credit, prepaid label")
    assert chat.widget_keys() == ["summary"] and "step by step" not in chat.text()
    third = fake.requests[3].body["messages"]
    said = [m.get("content") for m in third if m["role"] in ("user", "assistant")]
    assert "Which one?" in said and "The hub, got it. Why are you returning it?" in said
    assert any(m["role"] == "user" and "the hub" in str(m["content"]) for m in third)


async def test_tools_show_progress_as_the_guided_flow_does(llm_chat, fake):
    from chatkit.types import ProgressUpdateEvent

    fake.script(Step(tool_calls=[("search_policy", {"question": "restocking fee"})]), Step(text="15% unless Gold."))
    chat = await Conversation.sign_in()
    events = await chat.say("is there a restocking fee?")
    assert "Checking our return policy…" in [e.text for e in events if isinstance(e, ProgressUpdateEvent)]


async def test_return_status_shows_the_same_status_cards(llm_chat, fake, repo):
    from tests.customers.seeded import file_seed_proposal

    await file_seed_proposal(repo)
    fake.script(Step(tool_calls=[("return_status", {})]), Step(text="Your request is waiting for review."))
    chat = await Conversation.sign_in()
    await chat.say("where is my return?")
    assert chat.widget_keys() == ["status"]


async def test_a_spanish_customer_is_answered_in_spanish_by_the_model(llm_chat, fake):
    """The model is asked to write in the browser's language; the tools' values stay the English labels."""
    fake.script(Step(text="¡Hola! ¿Qué quieres devolver?"))
    chat = await Conversation.sign_in(language="es-ES,es;q=0.9")
    await chat.say("hola, quiero devolver el hub, llegó roto")
    system = fake.requests[0].body["messages"][0]["content"]
    assert "Write to the customer in Spanish" in system and "English option labels" in system
    english = await Conversation.sign_in("maria.garcia@example.com", "ORD-79007")
    fake.script(Step(text="Hello!"))
    await english.say("hi there")
    assert "Write to the customer in" not in fake.requests[-1].body["messages"][0]["content"]
