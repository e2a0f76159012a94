"""The guided assistant's conversations beyond the happy path: several items, changes of mind, cancel,
start over, status, quantities, unclear input. Text and clicks reach the same state."""

from __future__ import annotations

import pytest

from chat.widgets import Actions
from customers.models import Proposal
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def chat(repo, services_settings):  # type: ignore[no-untyped-def]
    await seed(repo)
    return await Conversation.sign_in()


async def _proposal() -> Proposal:
    return await Proposal.objects.aget()


async def test_several_items_at_once(chat):
    await chat.say("I want to return the cable and the hub from ORD-79001, they arrived broken")
    assert chat.widget_keys() == ["resolutions"]
    await chat.say("refund")
    await chat.say("schedule a pickup")
    await chat.say("confirm")
    proposal = await _proposal()
    assert {(line["sku"], line["quantity"]) for line in proposal.lines} == {("CBL-USBC-6FT-3PK", 1), ("HUB-SMART-2", 1)}
    assert proposal.quote["refund_cents"] == 1499 + 8999


async def test_both_hubs_means_quantity_two_and_never_asks(chat):
    await chat.say("both hubs from ORD-79001 please")
    assert chat.widget_keys() == ["reasons"] and "2 × Smart Home Hub" in chat.text()
    await chat.say("damaged")
    await chat.say("store credit")
    await chat.say("drop off")
    await chat.say("yes")
    proposal = await _proposal()
    assert proposal.lines[0]["quantity"] == 2 and proposal.quote["store_credit_cents"] == 2 * 8999 + 1800


async def test_quantity_typed_alone_changes_the_single_item(chat):
    await chat.say("return the hub")
    await chat.say("2")
    await chat.say("damaged")
    assert "2 × Smart Home Hub" in chat.text() or chat.widget_keys() == ["resolutions"]
    await chat.say("store credit")
    await chat.say("prepaid label")
    await chat.say("confirm")
    assert (await _proposal()).lines[0]["quantity"] == 2


async def test_more_than_returnable_is_capped(chat):
    await chat.say("5 hubs")
    await chat.say("damaged")
    await chat.say("refund")
    await chat.say("drop off")
    await chat.say("confirm")
    assert (await _proposal()).lines[0]["quantity"] == 2


async def test_change_of_mind_mid_flow(chat):
    await chat.say("return the hub, it was damaged")
    await chat.say("full refund")
    await chat.say("actually make it store credit")
    assert chat.widget_keys() == ["shipping"]
    await chat.say("prepaid label")
    await chat.say("change")
    assert chat.widget_keys() == ["choices"]
    await chat.click(Actions.CHANGE_STEP, {"step": "reason"})
    assert chat.widget_keys() == ["reasons"]
    await chat.click(Actions.SELECT_REASON, {"reason": "Wrong Item Received"})
    assert chat.widget_keys() == ["summary"]
    await chat.say("confirm")
    proposal = await _proposal()
    assert (proposal.reason, proposal.resolution) == ("Wrong Item Received", "Store Credit")


async def test_cancel_forgets_the_return(chat):
    await chat.say("return the hub, it was damaged")
    await chat.say("cancel")
    assert "cancelled" in chat.text() and chat.widget_keys() == ["choices"]
    await chat.say("store credit")
    assert "items" in chat.widget_keys()  # nothing chosen any more
    assert await Proposal.objects.acount() == 0


async def test_start_over(chat):
    await chat.say("return the display, it was damaged")
    await chat.say("start over")
    assert "items" in chat.widget_keys()
    await chat.say("the hub")
    assert chat.widget_keys() == ["reasons"] and "Smart Home Hub" in chat.text() and "Display" not in chat.text()


async def test_where_is_my_return(chat):
    await chat.say("where is my return?")
    assert "don't have any returns" in chat.text()
    await chat.say("return the hub, damaged, store credit, prepaid label")
    await chat.say("confirm")
    await chat.say("where is my return?")
    assert chat.widget_keys() == ["status"] and "Waiting for review" in str(chat.last_widget().widget)


async def test_unclear_input_gets_a_question_with_buttons(chat):
    await chat.say("asdf qwer")
    assert chat.widget_keys() == ["choices"]
    assert [label for label, _, _ in chat.buttons()] == ["Start a return", "Where is my return?"]
    await chat.click(Actions.START_OVER, {})
    assert "items" in chat.widget_keys()


async def test_unclear_input_mid_flow_repeats_the_step(chat):
    await chat.say("return the hub")
    await chat.say("purple monkey dishwasher")
    assert "Sorry" in chat.text() and chat.widget_keys() == ["reasons"]


async def test_an_order_of_someone_else_is_not_found(chat):
    await chat.say("I want to return something from ORD-79003")
    assert "couldn't find order ORD-79003" in chat.text()


async def test_help_thanks_and_human(chat):
    await chat.say("help")
    assert "start a return" in chat.text() and chat.widget_keys() == ["choices"]
    await chat.say("thanks")
    assert "welcome" in chat.text()
    await chat.say("talk to a human")
    assert "support team" in chat.text()


async def test_keep_with_discount_skips_shipping(chat):
    await chat.say("return the display, not as described")
    await chat.say("keep it with a discount")
    assert chat.widget_keys() == ["summary"]
    await chat.say("confirm")
    proposal = await _proposal()
    assert proposal.shipping == ""
    assert proposal.quote["refund_cents"] == 7500  # 25% of 299.99


async def test_a_stale_button_cannot_skip_the_rules(chat):
    await chat.say("hi")
    await chat.click(Actions.SELECT_ITEM, {"order_id": "ORD-79002", "sku": "TV-OLED-65"})  # window closed
    assert "can't be returned" in chat.text()
    await chat.click(Actions.SELECT_REASON, {"reason": "Bored"})
    assert "isn't valid" in chat.text()


async def test_quantity_is_changed_in_the_summary(chat):
    await chat.say("return the hub, damaged, store credit, prepaid label")
    assert chat.widget_keys() == ["summary"]
    steppers = [(label, payload) for label, action, payload in chat.buttons() if action == Actions.SET_QUANTITY]
    assert steppers == [("+", {"sku": "HUB-SMART-2", "quantity": 2})]  # 1 of 2: only "more" makes sense
    await chat.click(Actions.SET_QUANTITY, {"sku": "HUB-SMART-2", "quantity": 2})
    assert chat.widget_keys() == ["summary"] and "2 × Smart Home Hub" in str(chat.last_widget().widget)
    assert [label for label, action, _ in chat.buttons() if action == Actions.SET_QUANTITY] == ["−"]
    await chat.click(Actions.CONFIRM, {})
    assert (await _proposal()).lines[0]["quantity"] == 2


@pytest.mark.parametrize("confirm", ["typed", "clicked"])
async def test_a_return_is_filed_on_the_catalog_as_it_is_now_not_on_the_copy_its_choices_came_from(chat, repo, confirm):
    """Choices are shown from copies of the customer and products (REFERENCE_DATA_MAX_AGE_SECONDS); filing
    reads them afresh, so an item that became final sale a moment ago is not filed."""
    from dataclasses import replace

    from customers.cosmos import documents as docs

    await chat.say("return the hub, damaged, store credit, prepaid label")
    assert chat.widget_keys() == ["summary"]
    hub = await repo.get_product("HUB-SMART-2")
    await repo.upsert(repo.products, docs.product_document(replace(hub, final_sale=True)))
    await (chat.say("confirm") if confirm == "typed" else chat.click(Actions.CONFIRM, {}))
    assert "can't submit this return" in chat.text()
    assert await Proposal.objects.acount() == 0


async def test_a_third_tab_asking_for_the_same_hubs_is_told_which_requests_wait(chat):
    """Two requests for the same units may wait side by side (staff see them linked); the third is refused in
    words the customer can act on, and nothing is filed."""
    tabs = [chat, await Conversation.sign_in(), await Conversation.sign_in()]
    for tab in tabs:
        await tab.say("return both hubs from ORD-79001, damaged, store credit, prepaid label")
        assert tab.widget_keys() == ["summary"]
    await tabs[0].say("confirm")
    await tabs[1].say("confirm")
    first, second = [p async for p in Proposal.objects.order_by("pk")]
    await tabs[2].say("confirm")
    assert (
        f"can't submit this return: you already have requests waiting for these items (#{first.pk}, #{second.pk})"
        in tabs[2].text()
    )
    assert await Proposal.objects.acount() == 2


async def test_single_unit_lines_show_no_stepper(chat):
    await chat.say("return the cable, damaged, refund, drop off")
    assert chat.widget_keys() == ["summary"]
    assert not [b for b in chat.buttons() if b[1] == Actions.SET_QUANTITY]


async def test_where_is_my_return_shows_committed_returns_with_tracking(chat, repo):
    from customers.services.commit import commit_return
    from tests.customers.seeded import approval

    result = await commit_return(repo, approval("p-status"))
    await chat.say("where is my return?")
    cards = [str(item.widget) for item in chat.done_items() if item.type == "widget"]
    assert any(result.record.return_id in card and result.record.tracking_number in card for card in cards)
    assert any("Approved" in card for card in cards)


async def test_your_returns_lists_every_return_with_items_amount_and_tracking(chat, repo):
    """Asked in the customer's words or with the page's "Your returns" button: all of them, not the latest few."""
    from customers.services.commit import commit_return
    from tests.customers.seeded import approval

    lines = [("ORD-79001", "HUB-SMART-2"), ("ORD-79001", "CBL-USBC-6FT-3PK"), ("ORD-79101", "MOUSE-ERGO")]
    lines += [("ORD-79102", "ROUTER-MESH-3"), ("ORD-79103", "PWR-BANK-20K"), ("ORD-79001", "DSP-UHD-55")]
    committed = []
    for index, (order_id, sku) in enumerate(lines):
        committed.append(await commit_return(repo, approval(f"p-all-{index}", order_id=order_id, sku=sku)))
    await chat.say("return the hub, damaged, store credit, prepaid label")
    await chat.say("confirm")
    for words in ("Show my returns", "what returns do I have?"):
        await chat.say(words)
        cards = [str(item.widget) for item in chat.done_items()[-(len(lines) + 2) :] if item.type == "widget"]
        assert len(cards) == len(lines) + 1  # six returns and the request waiting for review
        assert "Waiting for review" in cards[0] and "1 × Smart Home Hub" in cards[0]
        for result in committed:
            card = next(card for card in cards if result.record.return_id in card)
            line = result.record.lines[0]
            assert f"1 × {line.name}" in card and result.record.tracking_number in card
            assert "Store credit" in card and "Approved" in card


async def test_with_azure_catalog_search_a_return_in_unknown_words_finds_the_customers_item(chat, monkeypatch):
    """A nickname ("my zorblax 3000") is in no phrase table: the catalog search names the item, only among the
    customer's own returnable products."""
    from chat.engine import guided
    from customers.search.catalog import CatalogMatch

    asked: list[tuple[str, list[str]]] = []

    class Search:
        def match(self, text: str, skus: list[str], top: int = 3) -> list[CatalogMatch]:
            asked.append((text, skus))
            return [CatalogMatch("DSP-UHD-55", "Ultra HD Smart Display", 0.9)]

    monkeypatch.setattr(guided, "catalog_search", lambda: Search())
    await chat.say("I want to return my zorblax 3000")
    assert chat.widget_keys() == ["reasons"] and "Ultra HD Smart Display" in chat.text()
    [(text, skus)] = asked
    assert text == "I want to return my zorblax 3000" and "DSP-UHD-55" in skus
    assert "TV-OLED-65" not in skus  # outside its window: never offered


async def test_each_turn_records_the_step_the_return_stands_at(chat):
    """Supervisors read where conversations stop from the step of their last turn (insights "stalls")."""
    from chat.models import AssistantTurn

    for said in ("hi, I want to return something", "the hub from ORD-79001", "damaged", "refund", "prepaid label"):
        await chat.say(said)
    await chat.say("confirm")
    steps = [turn.step async for turn in AssistantTurn.objects.filter(thread_id=chat.thread_id)]
    assert steps == [
        "choosing what to return",
        "giving a reason",
        "choosing a resolution",
        "choosing how to send it",
        "at the summary, not confirmed",
        "return filed",
    ]
    from chat.models import Conversation as Row

    row = await Row.objects.aget(thread_id=chat.thread_id)  # what insights read: kept on the row as it happens
    assert row.last_step == "return filed" and row.return_filed_at == (await _proposal()).created_at


async def test_a_reason_only_the_trained_model_reads_is_offered_not_assumed(chat):
    await chat.say("return the hub from ORD-79001, it keeps losing its connection every evening")
    assert chat.widget_keys() == ["reasons"], "a guessed reason is asked about, never used unasked"
    assert "It sounds like “Damaged/Defective”: is that right?" in chat.text()
    label, _, payload = chat.buttons()[0]
    assert (label, payload) == ("Damaged/Defective", {"reason": "Damaged/Defective"})
    assert chat.last_widget().widget.children[1].children[0].style == "primary"
    await chat.say("yes")
    assert chat.widget_keys() == ["resolutions"]
    await chat.say("refund")
    await chat.say("drop off")
    await chat.say("confirm")
    assert (await _proposal()).reason == "Damaged/Defective"


async def test_a_guessed_reason_can_be_turned_down_with_a_click(chat):
    await chat.say("return the hub from ORD-79001, it keeps losing its connection every evening")
    await chat.click(Actions.SELECT_REASON, {"reason": "Changed My Mind"})
    await chat.say("store credit")
    await chat.say("drop off")
    await chat.say("change")
    await chat.click(Actions.CHANGE_STEP, {"step": "reason"})
    assert chat.widget_keys()[-1] == "reasons"
    assert "It sounds like" not in chat.text(), "a guess turned down is not offered again"
    assert chat.buttons()[0][0] == "Damaged/Defective"  # the usual order
    await chat.click(Actions.SELECT_REASON, {"reason": "Changed My Mind"})
    await chat.say("confirm")
    assert (await _proposal()).reason == "Changed My Mind"


async def test_clicks_go_on_from_the_items_shown_and_the_confirm_checks_the_orders_as_they_are_now(chat, repo):
    """A click on the return's choices may use this process's copy of the orders (what was just shown); the
    confirm click, typed words and starting again read them afresh, so a return committed elsewhere meanwhile
    (here: every hub already returned) is never filed twice."""
    from bench.chat import CLICKS

    await chat.say("hi")  # the items, read now
    doc = await repo.customer_data.read_item("ORD-79001", partition_key="CUST-1001")
    for line in doc["lines"]:
        if line["sku"] == "HUB-SMART-2":
            line["returned_quantity"] = line["quantity"]
    await repo.customer_data.replace_item("ORD-79001", doc)

    *choices, (confirm, confirm_payload) = CLICKS
    for action, payload in choices:
        await chat.click(action, payload)
    assert chat.widget_keys() == ["summary"]  # the return, chosen from the items shown
    await chat.click(confirm, confirm_payload)
    assert not await Proposal.objects.filter(thread_id=chat.thread_id).aexists()

    await chat.click(Actions.START_OVER, {})
    assert "Smart Home Hub" not in " ".join(text for text, _, _ in chat.buttons())
