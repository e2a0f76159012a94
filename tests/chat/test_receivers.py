"""How the customer hears of a decision's outcome: from the worker's task that made it, else from a task of its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from celery._state import _task_stack
from django.contrib.auth import get_user_model
from django.db import connections

from chat import tasks as chat_tasks
from chat.context import ChatContext
from chat.store import CosmosChatStore
from customers.cosmos.runner import process_repository
from customers.services import commit_progress, decisions
from customers.services.commit import commit_return
from customers.services.staff import ensure_demo_staff
from customers.tasks import commit_return_task
from returns_console.celery import app
from tests.chat.conversation import Conversation
from tests.customers.seeded import file_seed_proposal, seed

pytestmark = pytest.mark.django_db(transaction=True)

ROBERT = ChatContext(customer_id="CUST-1001", order_id="ORD-79001")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Any]]]:
    """Tasks sent to the broker: (name, args)."""
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args=None, *rest, **options: sent.append((name, args)))
    process_repository.close()  # the worker's client, opened on this test's database
    yield sent
    process_repository.close()


def in_worker_task(work: Callable[[], Any], *, redelivered: bool = False) -> Any:
    """``work`` as a worker runs a task's body (celery.app.trace): the current task set, its request pushed."""
    commit_return_task.push_request(
        id="commit-1", delivery_info={"redelivered": redelivered}, is_eager=False, called_directly=False
    )
    _task_stack.push(commit_return_task)
    try:
        return work()
    finally:
        _task_stack.pop()
        commit_return_task.pop_request()
        connections.close_all()  # this thread's, as Celery's Django fixup closes them after a task


async def in_a_worker(*call: Any) -> Any:
    """Run in a thread of its own, as a worker's task runs: not the test's database thread, which the task's own
    hops to the database (tell_customer) would otherwise wait for."""
    function, *args = call
    return await sync_to_async(function, thread_sensitive=False)(*args)


async def _approved_in_a_conversation(repo: Any) -> tuple[Conversation, Any, Any]:
    await seed(repo)
    await sync_to_async(ensure_demo_staff)("receivers-test-pw")
    chat = await Conversation.sign_in()
    await chat.say("hi")
    proposal = await file_seed_proposal(repo, thread_id=chat.thread_id)
    agent = await sync_to_async(get_user_model().objects.get)(username="agent")
    approved = await sync_to_async(decisions.approve)(proposal_id=proposal.pk, user=agent, version=proposal.version)
    result = await commit_return(repo, commit_progress.approved_return(approved))
    return chat, approved, result.record


async def _cards(repo: Any, thread_id: str, text: str) -> list[str]:
    page = await CosmosChatStore(repo.database).load_thread_items(thread_id, None, 100, "asc", ROBERT)
    return [item.id for item in page.data if item.type == "widget" and text in item.model_dump_json()]


async def test_a_commit_landing_in_a_worker_task_is_told_from_that_task(repo, services_settings, queued):
    chat, approved, record = await _approved_in_a_conversation(repo)
    queued.clear()  # the approval, made in a request, queued the commit and its own telling

    await in_a_worker(in_worker_task, lambda: commit_progress.mark_committed(approved.approval_id, record.return_id))

    assert queued == []  # no task of its own
    assert len(await _cards(repo, chat.thread_id, record.return_id)) == 1


async def test_when_telling_from_the_task_fails_a_task_tells_instead(repo, services_settings, queued, monkeypatch):
    chat, approved, record = await _approved_in_a_conversation(repo)
    queued.clear()

    def unreachable(proposal: Any) -> None:
        raise ConnectionError("Cosmos DB unreachable")

    monkeypatch.setattr("chat.tasks.tell_now", unreachable)
    await in_a_worker(in_worker_task, lambda: commit_progress.mark_committed(approved.approval_id, record.return_id))

    assert queued == [("chat.tell_customer", (approved.pk, "committed"))]
    assert await _cards(repo, chat.thread_id, record.return_id) == []


async def test_a_redelivered_commit_tells_again_and_the_customer_sees_one_card(
    repo, services_settings, queued, monkeypatch
):
    """The first worker marked the commit and died before its task was acknowledged: whether or not it told the
    customer, the broker's second delivery tells them, and a second telling replaces the first."""
    chat, approved, record = await _approved_in_a_conversation(repo)
    queued.clear()
    told: list[str] = []
    tell_now = chat_tasks.tell_now

    def counted(proposal: Any) -> None:
        told.append(proposal.state)
        tell_now(proposal)

    monkeypatch.setattr(chat_tasks, "tell_now", counted)

    def mark(redelivered: bool) -> None:
        in_worker_task(
            lambda: commit_progress.mark_committed(approved.approval_id, record.return_id, redelivered=redelivered),
            redelivered=redelivered,
        )

    await in_a_worker(mark, False)
    [first] = await _cards(repo, chat.thread_id, record.return_id)
    await in_a_worker(mark, False)  # a re-sent task (not a redelivery) finds it committed and says nothing
    assert told == ["committed"]
    await in_a_worker(mark, True)
    assert told == ["committed", "committed"] and queued == []
    assert await _cards(repo, chat.thread_id, record.return_id) == [first]
