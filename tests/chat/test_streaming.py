"""A streamed answer leaves in as few writes as the turn's waits allow, with every byte, in order."""

from __future__ import annotations

import asyncio

import pytest

from bench.chat import CLICKS
from chat.streaming import coalesced
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed


async def _collect(chunks) -> list[bytes]:  # type: ignore[no-untyped-def]
    return [piece async for piece in coalesced(chunks)]


async def test_what_is_made_between_two_waits_leaves_together_and_in_order():
    async def turn():  # type: ignore[no-untyped-def]
        yield b"a"
        yield b"b"
        await asyncio.sleep(0.05)  # a wait for I/O: what came before it is written first
        yield b"c"
        yield b"d"
        yield b"e"

    assert await _collect(turn()) == [b"ab", b"cde"]


async def test_a_failure_mid_stream_comes_after_what_was_made_before_it():
    async def turn():  # type: ignore[no-untyped-def]
        yield b"a"
        await asyncio.sleep(0.01)
        yield b"b"
        raise LookupError("gone")

    pieces = coalesced(turn())
    assert await anext(pieces) == b"a"
    assert await anext(pieces) == b"b"
    with pytest.raises(LookupError, match="gone"):
        await anext(pieces)


async def test_a_response_stopped_early_cancels_the_turn_and_lets_it_clean_up():
    cleaned = asyncio.Event()

    async def turn():  # type: ignore[no-untyped-def]
        try:
            yield b"a"
            await asyncio.sleep(30)
            yield b"never"
        finally:
            await asyncio.sleep(0)  # clean-up that awaits, as a turn storing what it showed does
            cleaned.set()

    pieces = coalesced(turn())
    assert await anext(pieces) == b"a"
    await pieces.aclose()  # the client left
    assert cleaned.is_set()


@pytest.mark.django_db(transaction=True)
async def test_a_guided_answer_of_many_events_reaches_the_client_in_a_few_writes(repo, services_settings):
    await seed(repo)
    chat = await Conversation.sign_in()
    await chat.say("hi")
    action, payload = CLICKS[0]
    assert chat.thread_id and chat.newest_widget
    response = await chat.post(protocol.custom_action(chat.thread_id, chat.newest_widget.id, action, payload))
    pieces = [piece async for piece in response.streaming_content]
    events = protocol.parse_sse(b"".join(pieces))
    assert len(events) >= 10  # progress, the text in pieces, the items, the thread's update
    assert pieces[0].count(b"data: ") == 1  # "one moment", at once, before the conversation is read
    assert len(pieces) <= 6, [piece.count(b"data: ") for piece in pieces]


@pytest.mark.parametrize(
    "text",
    [
        "Sure, I can help with that. Which item would you like to return from order ORD-79001?",
        "Ok.",
        "  spaced   out\ttext\n with breaks  ",
        "Über 3 Artikel – kein Problem!",
        "",
    ],
)
def test_guided_text_streams_in_pieces_of_a_few_words_that_join_back_exactly(text):
    from chat.engine.events import DELTA_CHARS, phrases

    pieces = phrases(text)
    assert "".join(pieces) == text
    assert all(len(piece) >= DELTA_CHARS for piece in pieces[:-1])  # only the last may be short
    assert len(pieces) <= max(1, len(text.split()))
