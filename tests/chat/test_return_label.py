"""The printable return label (/chat/returns/<return id>/label and .pdf), as the customer meets it.

- The signed-in owner gets a print-styled page: the return address, the return id, a Code 128 barcode of the tracking
  number and a QR code for drop-off; and the same label as a PDF.
- A store return shows the QR code and no barcode; keep-with-discount says there is nothing to send.
- Anyone else (another customer, nobody signed in) and any id of the wrong shape get the same 404 as an unknown
  address, so nothing tells that a return exists; only GET and HEAD are answered.
- The confirmed card and "where is my return" link to the label.
"""

from __future__ import annotations

import re

import pytest
from django.test import AsyncClient

from chat.decisions import decision_message
from chat.widgets import Actions
from customers.domain import Resolution, Shipping
from customers.models import ProposalState
from customers.services.commit import commit_return
from tests.chat.conversation import Conversation
from tests.customers.seeded import approval, proposal_row, seed
from tests.customers.services.test_labels import decode_code128, pdf_page_text, svg_barcode_modules, svg_qr_matrix

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = ("Returns Centre", "Unit 4, Riverside Park", "Manchester M17 1AB", "United Kingdom")


@pytest.fixture
async def returns(repo, services_settings):  # type: ignore[no-untyped-def]
    """Robert's three committed returns: a prepaid parcel, a store return and a keep-with-discount."""
    await seed(repo)
    parcel = await commit_return(repo, approval("p-label-parcel"))
    store = await commit_return(repo, approval("p-label-store", shipping=Shipping.RETURN_TO_STORE))
    keep = await commit_return(
        repo, approval("p-label-keep", sku="CBL-USBC-6FT-3PK", resolution=Resolution.KEEP_WITH_DISCOUNT)
    )
    return parcel.record, store.record, keep.record


@pytest.fixture
async def robert(returns) -> AsyncClient:  # type: ignore[no-untyped-def]
    return (await Conversation.sign_in()).client


@pytest.fixture
async def maria(returns) -> AsyncClient:  # type: ignore[no-untyped-def]
    return (await Conversation.sign_in("maria.garcia@example.com", "ORD-79007")).client


def _svg(page: str, css_class: str) -> str | None:
    found = re.search(rf'<svg [^>]*class="{css_class}".*?</svg>', page, re.S)
    return found.group(0) if found else None


# --- the owner's label ----------------------------------------------------------------------------------------------
async def test_the_owner_gets_a_print_styled_label_with_address_id_barcode_and_qr(returns, robert):
    parcel, _, _ = returns
    response = await robert.get(f"/chat/returns/{parcel.return_id}/label")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert all(line in page for line in ADDRESS)
    assert f'<span class="return-id">{parcel.return_id}</span>' in page and parcel.order_id in page
    barcode = _svg(page, "barcode")
    assert barcode is not None and decode_code128(svg_barcode_modules(barcode)) == parcel.tracking_number
    qr = _svg(page, "qr")
    assert qr is not None and len(svg_qr_matrix(qr)) >= 21  # at least a version 1 symbol
    assert "Smart Home Hub" in page
    # Print and PDF, styled and scripted from files only: the Content-Security-Policy allows nothing inline.
    assert 'id="print-label"' in page and f'href="/chat/returns/{parcel.return_id}/label.pdf"' in page
    assert "/static/chat/label.css" in page and '<script src="/static/chat/label.js">' in page
    assert " style=" not in page and "<style" not in page and "<script>" not in page
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


async def test_the_return_address_comes_from_the_setting(returns, robert, settings):
    settings.RETURN_ADDRESS = "Acme Returns|Dock 3\\nLeeds LS1 1AA"
    page = (await robert.get(f"/chat/returns/{returns[0].return_id}/label")).content.decode()
    assert "Acme Returns<br>Dock 3<br>Leeds LS1 1AA" in page and "Riverside Park" not in page


async def test_the_owner_gets_the_label_as_a_pdf(returns, robert):
    parcel, _, _ = returns
    response = await robert.get(f"/chat/returns/{parcel.return_id}/label.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="{parcel.return_id}.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_page_text(response.content)
    assert parcel.return_id.encode() in text and parcel.tracking_number.encode() in text
    assert b"Manchester M17 1AB" in text


async def test_head_is_answered_like_get(returns, robert):
    response = await robert.head(f"/chat/returns/{returns[0].return_id}/label")
    assert response.status_code == 200


async def test_a_store_return_shows_the_qr_code_and_no_barcode(returns, robert):
    _, store, _ = returns
    page = (await robert.get(f"/chat/returns/{store.return_id}/label")).content.decode()
    assert _svg(page, "qr") is not None and _svg(page, "barcode") is None
    assert "No parcel label needed: bring the item to any of our stores and show this code" in page
    assert "Ship to" not in page
    pdf = await robert.get(f"/chat/returns/{store.return_id}/label.pdf")
    assert pdf.status_code == 200 and store.return_id.encode() in pdf_page_text(pdf.content)


async def test_keep_with_discount_says_there_is_nothing_to_send(returns, robert):
    _, _, keep = returns
    response = await robert.get(f"/chat/returns/{keep.return_id}/label")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing to send back" in page and keep.return_id in page
    assert "<svg" not in page and 'id="print-label"' not in page


# --- everyone else: the same 404 as an unknown address ------------------------------------------------------------
async def test_another_customers_return_is_not_found_on_both_addresses(returns, maria):
    for record in (*returns, None):
        return_id = record.return_id if record else "RET-000000000000"  # theirs, or one that never existed
        for suffix in ("label", "label.pdf"):
            path = f"/chat/returns/{return_id}/{suffix}"
            response = await maria.get(path)
            assert response.status_code == 404, path
            assert response.json() == {"error": "not_found", "message": f"Nothing is at {path}."}  # the same words


async def test_nobody_signed_in_gets_not_found(returns):
    anonymous = AsyncClient()
    for suffix in ("label", "label.pdf"):
        response = await anonymous.get(f"/chat/returns/{returns[0].return_id}/{suffix}")
        assert response.status_code == 404 and response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "return_id",
    [
        "../x",
        "..%2Fx",
        "RET-" + "A" * 500,
        "ret-0a1b2c3d4e5f",
        "zz-garbage",
        "RET-",
        "RET-0A1B2C3D4E5G",
        "RET-0A1B%00",
        "RET-ÅÅÅÅÅÅ",
        "CUST-1001",
        "ORD-79001",
        "%20RET-0A1B2C3D4E5F",
    ],
)
async def test_a_malformed_id_is_not_found_before_any_database_read(robert, monkeypatch, return_id):
    async def no_database():  # type: ignore[no-untyped-def]
        raise AssertionError("a malformed id reached Cosmos")

    monkeypatch.setattr("chat.labels.loop_repository", no_database)
    for suffix in ("label", "label.pdf"):
        response = await robert.get(f"/chat/returns/{return_id}/{suffix}")
        assert response.status_code == 404, (return_id, suffix, response.content[:200])
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
async def test_only_get_and_head_are_answered(returns, robert, method):
    for suffix in ("label", "label.pdf"):
        response = await getattr(robert, method)(f"/chat/returns/{returns[0].return_id}/{suffix}")
        assert response.status_code == 405, (method, suffix)
        assert response["Allow"] == "GET, HEAD"


# --- the way there from the chat ----------------------------------------------------------------------------------
async def test_the_confirmed_card_links_to_the_label(returns):
    parcel, store, keep = returns
    for record, linked in ((parcel, True), (store, True), (keep, False)):
        proposal = await proposal_row_async(
            state=ProposalState.COMMITTED, return_id=record.return_id, submission_key=record.return_id
        )
        _, card, _ = decision_message(proposal, record)
        links = [child.value for child in card.children if child.type == "Markdown"]
        expected = [f"[Print your return label](/chat/returns/{record.return_id}/label)"]
        assert links == (expected if linked else []), record.resolution


async def test_where_is_my_return_links_each_printable_label(returns):
    parcel, store, keep = returns
    chat = await Conversation.sign_in()
    await chat.say("where is my return?")
    if not any(item.type == "widget" for item in chat.done_items()):  # the menu first, then the status
        await chat.click(Actions.STATUS, {})
    cards = [str(item.widget) for item in chat.done_items() if item.type == "widget"]
    text = " ".join(cards)
    assert f"(/chat/returns/{parcel.return_id}/label)" in text and f"(/chat/returns/{store.return_id}/label)" in text
    assert f"(/chat/returns/{keep.return_id}/label)" not in text


async def proposal_row_async(**fields):  # type: ignore[no-untyped-def]
    from asgiref.sync import sync_to_async

    return await sync_to_async(proposal_row)(**fields)
