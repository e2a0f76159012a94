"""The customer's rating of a conversation (1-5, optional comment), asked for when it comes to an end."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from chat.models import AssistantTurn, ConversationRating
from chat.signals import conversation_event
from customers.errors import InvalidRequest

MAX_COMMENT = 1000
GUIDED = "guided"


async def _engine_of(thread_id: str) -> str:
    """The conversation's assistant for "ratings by engine": the model if it answered any turn, else the rules."""
    model = (
        await AssistantTurn.objects.filter(thread_id=thread_id)
        .exclude(engine=GUIDED)
        .values_list("engine", flat=True)
        .afirst()
    )
    return model or GUIDED


async def _announce(rating: ConversationRating) -> None:
    event = {"type": "customer.rating", **rating.as_json()}
    await conversation_event.asend(sender=None, thread_id=rating.thread_id, customer_id=rating.customer_id, event=event)


def is_rated(thread_id: str) -> bool:
    return ConversationRating.objects.filter(thread_id=thread_id).exists()


async def was_rated(thread_id: str) -> bool:
    return await sync_to_async(is_rated)(thread_id)


async def rate(thread_id: str, customer_id: str, rating: object) -> ConversationRating:
    """Store (or change) the conversation's rating and tell the dashboards; the comment is kept if rated again."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidRequest("A rating is a whole number from 1 to 5.")
    saved, _ = await ConversationRating.objects.aupdate_or_create(
        thread_id=thread_id,
        defaults={"customer_id": customer_id, "rating": rating, "engine": await _engine_of(thread_id)},
    )
    await _announce(saved)
    return saved


async def add_comment(thread_id: str, comment: str) -> ConversationRating | None:
    """The customer's words after rating; None when the conversation has no rating to attach them to."""
    saved = await ConversationRating.objects.filter(thread_id=thread_id).afirst()
    if saved is None:
        return None
    saved.comment = " ".join(comment.split())[:MAX_COMMENT]
    await saved.asave(update_fields=["comment", "updated_at"])
    await _announce(saved)
    return saved
