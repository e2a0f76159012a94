"""Customer feedback on the assistant's answers (thumbs up/down), reviewed by admins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from customers.fields import ClockDateTimeField


class Feedback(models.Model):
    class Kind(models.TextChoices):
        POSITIVE = "positive", "Thumbs up"
        NEGATIVE = "negative", "Thumbs down"

    customer_id = models.CharField(max_length=64, db_index=True)
    thread_id = models.CharField(max_length=64, db_index=True)
    item_ids = models.JSONField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message = models.TextField(blank=True, help_text="The rated message, as the customer saw it.")
    engine = models.CharField(max_length=200, blank=True, help_text="Which assistant engine wrote it.")
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.thread_id}"


class ConversationRating(models.Model):
    """The customer's 1-5 rating at the end of a conversation, with an optional comment; one per conversation
    (rating again replaces it)."""

    thread_id = models.CharField(max_length=64, unique=True)
    customer_id = models.CharField(max_length=64, db_index=True)
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True)
    engine = models.CharField(max_length=200, blank=True, help_text="The assistant engine of the conversation.")
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at",)

    def __str__(self) -> str:
        return f"{self.rating}/5 on {self.thread_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "rating": self.rating,
            "comment": self.comment,
            "engine": self.engine,
            "at": self.updated_at.isoformat(),
        }


class ConversationMode(models.TextChoices):
    ASSISTANT = "assistant", "Assistant (decides alone within the rules)"
    COPILOT = "copilot", "Copilot (proposals need approval)"
    HUMAN = "human", "Human (the assistant stays quiet)"


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"  # open again: the customer wrote after it was resolved


class Attention(models.TextChoices):
    """Why a conversation waits for a person, whatever its proposals (chat.conversations)."""

    NONE = "", "Nothing"
    ASKED_FOR_PERSON = "asked_for_person", "Asked for a person"
    NEEDS_REPLY = "needs_reply", "Needs reply"


class Conversation(models.Model):
    """A customer's chat thread as staff see it: who it is, how it is run, and when the customer last spoke."""

    thread_id = models.CharField(max_length=64, unique=True)
    customer_id = models.CharField(max_length=64, db_index=True)
    customer_name = models.CharField(max_length=200, blank=True)
    customer_tier = models.CharField(max_length=20, blank=True)
    mode = models.CharField(max_length=10, choices=ConversationMode.choices, default=ConversationMode.COPILOT)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = ClockDateTimeField(auto_now_add=True)
    last_customer_at = models.DateTimeField(null=True, blank=True)
    last_staff_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The customer deleted the thread: nothing can be said to them there any more.
    deleted_by_customer_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True, max_length=2000)
    attention = models.CharField(max_length=20, choices=Attention.choices, default=Attention.NONE, blank=True)
    attention_since = models.DateTimeField(null=True, blank=True)
    # An agent was here and handed back: what the customer writes next is for the team to read too.
    handed_back_at = models.DateTimeField(null=True, blank=True)
    # For finding it (chat.conversations.describe_customer): the customer's email and their order ids.
    customer_email = models.CharField(max_length=254, blank=True)
    # The customer's language (their browser's), for what reaches them outside a request: decisions, commits.
    language = models.CharField(max_length=16, blank=True)
    order_ids = models.TextField(blank=True)
    last_message = models.CharField(max_length=200, blank=True)  # the list's preview of what was said last
    customer_messages = models.PositiveIntegerField(default=0)  # typed by the customer, ever: unread counts from it
    # How it ended, for insights by period (kept as it happens, so a year is read from this row alone): when a
    # return was first filed here (chat.receivers), and the step of the last assistant turn (chat.turns).
    return_filed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ("-last_customer_at", "-created_at")
        indexes = (
            models.Index(fields=("created_at",), name="conversation_started"),
            # Covers the insights' outcomes and stalls: a period's conversations read from the index alone.
            models.Index(
                fields=("created_at", "return_filed_at", "attention", "mode", "status", "last_step"),
                name="conversation_outcome",
            ),
        )

    def __str__(self) -> str:
        return f"{self.customer_name or self.customer_id} ({self.get_mode_display()})"


class ConversationMessage(models.Model):
    """What was typed (the customer's words, staff replies) or clicked in a conversation, kept where staff search
    and read it: the thread itself lives in Cosmos DB, which a search across conversations cannot use, and a
    click leaves no item in it."""

    CLICK = "click"  # what a customer's click meant ("chose Store Credit"): the customer's, without typing

    thread_id = models.CharField(max_length=64, db_index=True)
    author = models.CharField(
        max_length=10, choices=[("customer", "Customer"), ("staff", "Staff"), (CLICK, "Customer's click")]
    )
    text = models.TextField()
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def as_event(self) -> dict[str, Any]:
        """As the staff transcript shows a click (a mirrored chat event, not an item of the customer's thread)."""
        return {"type": "customer.click", "id": self.pk, "text": self.text, "created_at": self.created_at.isoformat()}


class ConversationRead(models.Model):
    """How far a member of staff has read a conversation: its customer message count when they last had it open.
    Unread for them is the conversation's count minus this."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    thread_id = models.CharField(max_length=64)
    read_messages = models.PositiveIntegerField(default=0)
    read_at = ClockDateTimeField(auto_now=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=["user", "thread_id"], name="one_read_mark_per_user"),)


class ConversationNote(models.Model):
    """An internal note: staff write it in a conversation for each other. It lives here, not in the customer's
    thread (Cosmos), so no read the customer can make (ChatKit's items or threads) can ever return it."""

    thread_id = models.CharField(max_length=64, db_index=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def as_json(self) -> dict[str, Any]:
        author = self.author
        return {
            "id": self.pk,
            "thread_id": self.thread_id,
            "author": author.get_short_name() or author.get_username(),
            "text": self.text,
            "created_at": self.created_at.isoformat(),
        }


MAX_STAFF_MESSAGE = 4000  # characters an agent may send in one message (a saved reply included)


class SavedReply(models.Model):
    """A reply staff keep ready (Intercom's saved replies, Zendesk's macros); admins write them, agents pick
    one while talking to a customer, edit it if they like, and send it. Placeholders such as
    ``{first_name}`` are filled for the conversation (``chat.saved_replies``)."""

    title = models.CharField(max_length=80, unique=True)
    body = models.TextField(max_length=MAX_STAFF_MESSAGE)
    active = models.BooleanField(default=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ("title",)
        verbose_name_plural = "saved replies"

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from chat.saved_replies import placeholder_errors

        if errors := placeholder_errors(self.body):
            raise ValidationError({"body": errors})


class AssistantTurn(models.Model):
    """Which engine answered a turn and what tools the model called: staff see it on every assistant message."""

    thread_id = models.CharField(max_length=64, db_index=True)
    customer_id = models.CharField(max_length=64)
    engine = models.CharField(max_length=200)  # "guided", or "llm: <model> (<where>)"
    fallback = models.CharField(max_length=200, blank=True)  # why the guided engine answered instead of the model
    tool_calls = models.JSONField(default=list, blank=True)
    item_ids = models.JSONField(default=list)
    # Where the return stood after this turn (chat.engine.flow.FlowStep); a conversation's last turn says where
    # it stopped.
    step = models.CharField(max_length=40, blank=True)
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = (models.Index(fields=("thread_id", "-created_at", "-id"), name="turn_latest"),)

    def as_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "fallback": self.fallback or None, "tool_calls": self.tool_calls}
