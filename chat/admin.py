from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from chat.models import Conversation, ConversationRating, Feedback, SavedReply
from chat.saved_replies import PLACEHOLDERS


class ConversationLink:
    """A column that opens the conversation the row belongs to (its admin page: customer, mode, status)."""

    @admin.display(description="conversation", ordering="thread_id")
    def conversation(self, obj) -> str:  # type: ignore[no-untyped-def]
        found = Conversation.objects.filter(thread_id=obj.thread_id).only("pk", "customer_name").first()
        if found is None:
            return obj.thread_id
        url = reverse("admin:chat_conversation_change", args=[found.pk])
        return format_html('<a href="{}">{} · {}</a>', url, found.customer_name or obj.customer_id, obj.thread_id)


@admin.register(Feedback)
class FeedbackAdmin(ConversationLink, admin.ModelAdmin):
    list_display = ("created_at", "kind", "rated_message", "engine", "customer_id", "conversation")
    list_filter = ("kind", "engine", "created_at")
    search_fields = ("customer_id", "thread_id", "message")
    readonly_fields = (
        "customer_id",
        "thread_id",
        "conversation",
        "item_ids",
        "message",
        "engine",
        "kind",
        "created_at",
    )

    @admin.display(description="rated message")
    def rated_message(self, obj: Feedback) -> str:
        return obj.message[:120] + ("…" if len(obj.message) > 120 else "") if obj.message else "(not readable)"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(ConversationRating)
class ConversationRatingAdmin(ConversationLink, admin.ModelAdmin):
    """The customers' 1-5 ratings at the end of their conversations; read-only, they are the customers' words."""

    list_display = ("updated_at", "rating", "comment", "engine", "customer_id", "conversation")
    list_filter = ("rating", "engine", "updated_at")
    search_fields = ("customer_id", "thread_id", "comment")
    readonly_fields = (
        "thread_id",
        "conversation",
        "customer_id",
        "rating",
        "comment",
        "engine",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Modes are changed from the console, where the change is audited; read-only here."""

    list_display = (
        "thread_id",
        "customer_name",
        "customer_tier",
        "mode",
        "status",
        "attention",
        "assigned_to",
        "last_customer_at",
    )
    list_filter = ("mode", "status", "attention", "customer_tier", "assigned_to")
    search_fields = ("thread_id", "customer_id", "customer_name", "customer_email", "order_ids")
    readonly_fields = tuple(field.name for field in Conversation._meta.fields)

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "active", "updated_at")
    list_filter = ("active",)
    search_fields = ("title", "body")

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change, **kwargs)
        names = "; ".join(f"{{{name}}} {meaning}" for name, meaning in PLACEHOLDERS.items())
        form.base_fields["body"].help_text = f"Placeholders: {names}. Write {{{{ and }}}} for literal braces."
        return form
