from django.contrib import admin

from chat.models import Conversation, Feedback, SavedReply
from chat.saved_replies import PLACEHOLDERS


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "customer_id", "thread_id")
    list_filter = ("kind", "created_at")
    search_fields = ("customer_id", "thread_id")
    readonly_fields = ("customer_id", "thread_id", "item_ids", "kind", "created_at")

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
