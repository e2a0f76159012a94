from django.contrib import admin

from chat.models import Feedback


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "customer_id", "thread_id")
    list_filter = ("kind", "created_at")
    search_fields = ("customer_id", "thread_id")
    readonly_fields = ("customer_id", "thread_id", "item_ids", "kind", "created_at")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
