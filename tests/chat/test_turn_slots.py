"""A web process works on at most TURN_CONCURRENCY turns at once and lets the others in first come, first served;
the customer hears that we are on it before their turn waits."""

from __future__ import annotations

import asyncio

import pytest

from chat.turn_slots import turn_slot
from tests.chat import protocol
from tests.chat.conversation import Conversation
from tests.customers.seeded import seed
from tests.returns_console.test_security_settings import load_settings

NO_MODEL = {"AZURE_OPENAI_ENDPOINT": None, "AZURE_OPENAI_DEPLOYMENT": None, "OPENAI_API_KEY": None}


async def _turns(count: int, until: asyncio.Event) -> tuple[list[int], list[int], list[asyncio.Task]]:
    """``count`` turns started one after another, each holding its slot until ``until``: the order they got in,
    and how many were in at each entry."""
    entered: list[int] = []
    inside: list[int] = []
    running = 0

    async def turn(number: int) -> None:
        nonlocal running
        async with turn_slot():
            running += 1
            entered.append(number)
            inside.append(running)
            await until.wait()
            running -= 1

    tasks = []
    for number in range(count):
        tasks.append(asyncio.create_task(turn(number)))
        await asyncio.sleep(0)  # each reaches the semaphore before the next starts
    return entered, inside, tasks


async def test_at_most_the_limit_run_at_once_and_the_rest_get_in_in_the_order_they_came(settings):
    settings.TURN_CONCURRENCY = 2
    release = asyncio.Event()
    entered, inside, tasks = await _turns(6, release)
    await asyncio.sleep(0.05)
    assert entered == [0, 1]  # the others wait
    release.set()
    await asyncio.gather(*tasks)
    assert entered == [0, 1, 2, 3, 4, 5]
    assert max(inside) == 2


async def test_a_turn_that_leaves_while_waiting_gives_up_its_place(settings):
    settings.TURN_CONCURRENCY = 1
    release = asyncio.Event()
    entered, _, tasks = await _turns(3, release)
    tasks[1].cancel()  # the customer closed the page while waiting
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert entered == [0, 2]


async def test_zero_lets_every_turn_in_at_once(settings):
    settings.TURN_CONCURRENCY = 0
    release = asyncio.Event()
    entered, inside, tasks = await _turns(5, release)
    await asyncio.sleep(0.05)
    assert entered == [0, 1, 2, 3, 4] and max(inside) == 5
    release.set()
    await asyncio.gather(*tasks)


@pytest.mark.django_db(transaction=True)
async def test_the_customer_hears_we_are_on_it_at_once_and_gets_the_answer_when_a_slot_frees(
    repo, services_settings, settings
):
    settings.TURN_CONCURRENCY = 1
    await seed(repo)
    chat = await Conversation.sign_in()
    async with turn_slot():  # another customer's turn is in progress
        response = await chat.post(protocol.create("hi"))
        pieces = aiter(response.streaming_content)
        first = await asyncio.wait_for(anext(pieces), 5)
        assert [event.type for event in protocol.parse_sse(first)] == ["progress_update"]
        rest = asyncio.create_task(anext(pieces))
        done, _ = await asyncio.wait({rest}, timeout=0.3)
        assert not done  # the turn waits its turn: nothing read, nothing answered yet
    answer = [await rest] + [piece async for piece in pieces]
    events = protocol.parse_sse(b"".join(answer))
    assert "thread.created" in [event.type for event in events]
    assert any(event.type == "thread.item.done" and event.item.type == "widget" for event in events)


@pytest.mark.parametrize(
    ("env", "limit"),
    [
        ({**NO_MODEL, "ASSISTANT_ENGINE": None, "TURN_CONCURRENCY": None}, 8),  # the guided assistant: CPU
        ({**NO_MODEL, "OPENAI_API_KEY": "sk-test", "ASSISTANT_ENGINE": None, "TURN_CONCURRENCY": None}, 0),
        ({**NO_MODEL, "ASSISTANT_ENGINE": None, "TURN_CONCURRENCY": "4"}, 4),
    ],
)
def test_the_guided_assistants_turns_are_held_to_sixteen_and_a_models_are_not_held_back(
    monkeypatch, tmp_path, env, limit
):
    assert load_settings(monkeypatch, tmp_path, **env)["TURN_CONCURRENCY"] == limit
