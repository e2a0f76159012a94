"""Saved replies filled in for one conversation: the customer's and the agent's names, nothing else.

A body is a ``str.format``-style template restricted to the names in ``PLACEHOLDERS``: no attribute or index
access and no format specs, so an admin's typo is refused when saved instead of reaching a customer, and a
template can never reach into the objects behind the values.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from chat.conversations import conversation_for_staff, staff_display_name
from chat.models import SavedReply

PLACEHOLDERS = {
    "first_name": "the customer's first name",
    "customer_name": "the customer's full name",
    "agent_name": "the agent's name",
}


def placeholder_errors(body: str) -> list[str]:
    """What is wrong with ``body``'s placeholders (nothing: an empty list)."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(body) if name is not None]
    except ValueError as error:  # a lone "{" or "}"
        return [f"{error}. Write {{{{ and }}}} for literal braces."]
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    errors = []
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            written = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            errors.append(f"Unknown placeholder {{{written}}}: use {allowed}.")
    return errors


def fill(body: str, *, customer_name: str, agent_name: str) -> str:
    """``body`` with its placeholders filled (a body that fails ``placeholder_errors`` is returned as written)."""
    if placeholder_errors(body):
        return body
    name = customer_name.strip()
    first = name.split()[0] if name else "there"
    return body.format(customer_name=name or "there", first_name=first, agent_name=agent_name)


def saved_replies_for(thread_id: str, user: Any) -> list[dict[str, Any]]:
    """The active saved replies, filled in for ``thread_id``'s customer and ``user`` (NotFound: no such
    conversation)."""
    conversation = conversation_for_staff(thread_id)
    agent = staff_display_name(user)
    name = conversation.customer_name
    return [
        {"id": reply.pk, "title": reply.title, "text": fill(reply.body, customer_name=name, agent_name=agent)}
        for reply in SavedReply.objects.filter(active=True)
    ]
