"""Customer-facing text goes through Django's translation machinery: the browser's language chooses, Spanish is
the second language, end to end (the page, the assistant's words and cards, decisions told later by a worker);
dates follow the customer's locale."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from django.test import AsyncClient
from django.utils import translation

from chat.decisions import decision_message
from chat.formats import short_date
from chat.models import Conversation as ConversationRow
from chat.widgets import Actions
from customers.models import Proposal, ProposalState
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed

LOCALE = Path(__file__).resolve().parents[2] / "locale"
CATALOGS = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))


def _strings(value: object) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [str(value or "")]


def _messages(catalog: object) -> dict[str, list[str]]:
    return {str(m.id): _strings(m.string) for m in catalog if m.id}  # type: ignore[attr-defined]


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: f"{path.parts[-3]}/{path.name}")
def test_every_message_is_translated_and_the_compiled_catalog_is_current(po):
    catalog = read_po(po.open("rb"))
    untranslated = [
        m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert untranslated == []
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    shipped = read_mo(po.with_suffix(".mo").open("rb"))
    fresh = read_mo(io.BytesIO(compiled.getvalue()))
    assert _messages(shipped) == _messages(fresh), f"{po.with_suffix('.mo')} is stale: compile it (locale/README.md)"


def test_dates_follow_the_customers_locale():
    day = date(2026, 11, 26)
    found = {}
    for language in ("en", "en-gb", "es"):
        with translation.override(language):
            found[language] = short_date(day)
    assert found == {"en": "Nov 26", "en-gb": "26 Nov", "es": "26 nov"}


pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_page_and_its_script_words_come_in_the_browsers_language():
    spanish = {"accept-language": "es-ES,es;q=0.9,en;q=0.5"}
    page = (await AsyncClient().get("/chat/", headers=spanish)).content.decode()
    assert '<html lang="es">' in page and "Iniciar una devolución" in page and "Número de pedido" in page
    words = (await AsyncClient().get("/chat/i18n.js", headers=spanish)).content.decode()
    assert "No tienes conexi\\u00f3n" in words or "No tienes conexión" in words
    english = (await AsyncClient().get("/chat/")).content.decode()
    assert '<html lang="en">' in english and "Start a return" in english


async def test_a_spanish_customer_clicks_through_a_return_in_spanish(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in(language="es")
    await chat.say("I want to return the hub")  # typed words are read in English; the answers are the customer's
    assert "¿Por qué devuelves" in str(chat.last_widget().widget)
    assert "Dañado/defectuoso" in [label for label, _, _ in chat.buttons()]
    await chat.click(Actions.SELECT_REASON, {"reason": "Damaged/Defective"})  # the value stays the contract's
    assert "¿Cómo quieres que lo resolvamos?" in str(chat.last_widget().widget)
    assert "Gracias. Esto es lo que puedes recibir por" in chat.text()
    row = await ConversationRow.objects.aget(thread_id=chat.thread_id)
    assert row.language == "es"


async def test_a_decision_told_later_by_a_worker_is_in_the_customers_language(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in(language="es")
    await chat.say("return the hub, damaged, store credit, prepaid label")
    await chat.say("confirm")
    proposal = await Proposal.objects.aget()
    proposal.state, proposal.customer_message = ProposalState.REJECTED, "The photo shows no damage."
    language = await ConversationRow.objects.values_list("language", flat=True).aget(thread_id=chat.thread_id)
    with translation.override(language):
        text, card, _copy = decision_message(proposal, None)
    assert text.startswith("Nuestro equipo revisó tu solicitud de devolución y no ha podido aprobarla")
    assert "No aprobada" in str(card)
    with translation.override(None):  # a worker with no customer language: English, as before
        text, card, _copy = decision_message(proposal, None)
    assert text.startswith("Our team reviewed your return request")


async def test_a_policy_answer_is_in_the_customers_language_with_the_policy_in_force(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in(language="es")
    await chat.say("how long until I get my refund?")
    assert "Según nuestra política «Reembolsos»" in chat.text() and "5 días hábiles" in chat.text()
    english = await Conversation.sign_in()
    await english.say("how long until I get my refund?")
    assert "From our “Refunds” policy" in english.text() and "within 5 business days" in english.text()
