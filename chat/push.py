"""Adding an item to a customer's conversation from outside a ChatKit request, and pushing it live.

The item is stored first (so a reload shows it) and then sent to the customer's open sockets on the channel
layer; a socket that is away simply finds it in the thread when it comes back.
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer
from chatkit.types import ThreadItem

from chat.context import ChatContext
from chat.signals import conversation_events
from chat.store import CosmosChatStore


def customer_group(customer_id: str) -> str:
    # Group names allow only ASCII letters, digits, hyphens, periods and underscores.
    return "customer." + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in customer_id)[:90]


async def post_to_thread(
    store: CosmosChatStore, customer_id: str, thread_id: str, *items: ThreadItem, layer: Any = None
) -> None:
    """Store ``items`` in one write (a decision posts its message, card and rating ask together), then push each
    to the customer's page and tell the dashboards in one burst."""
    context = ChatContext(customer_id=customer_id, order_id="")
    store.defer_writes()
    for item in items:
        await store.add_thread_item(thread_id, item, context)
    await store.save_deferred()
    done = [{"type": "thread.item.done", "item": item.model_dump(mode="json", exclude_none=True)} for item in items]
    layer = layer or get_channel_layer()
    if layer is not None:
        for event in done:
            await layer.group_send(
                customer_group(customer_id), {"type": "thread.item", "thread_id": thread_id, "item": event["item"]}
            )
    await conversation_events.asend(sender=None, thread_id=thread_id, customer_id=customer_id, events=done)
