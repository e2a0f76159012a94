"""Celery tasks of the chat app."""

from __future__ import annotations

from celery import shared_task

from chat.decisions import tell_customer
from customers.cosmos.runner import process_repository
from customers.models import Proposal
from customers.selectors.proposals import proposal_or_none


def tell_now(proposal: Proposal) -> None:
    """Tell the customer about ``proposal`` as it stands, from this process (a worker, on its Cosmos client)."""
    process_repository.run(lambda repo: tell_customer(repo, proposal))


# Nothing reads its result (the message in the thread is the outcome): storing it cost a Redis write per task.
@shared_task(name="chat.tell_customer", acks_late=True, max_retries=5, default_retry_delay=2, ignore_result=True)
def tell_customer_task(proposal_id: int, state: str) -> str:
    """Tell the customer about a decision. ``state`` is the one announced: a later change sends its own task,
    so a delayed task never repeats an old message over a newer one."""
    proposal = proposal_or_none(proposal_id)
    if proposal is None or proposal.state != state:
        return "superseded"
    tell_now(proposal)
    return "told"
