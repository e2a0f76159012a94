from django.contrib import admin

from customers.models import Proposal, ReturnPolicySettings, StaffProfile


@admin.register(ReturnPolicySettings)
class ReturnPolicySettingsAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "restocking_fee_percent", "store_credit_bonus_percent", "updated_at")
    list_filter = ("is_active",)
    readonly_fields = ("updated_at", "updated_by")

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "approval_limit")
    search_fields = ("user__username",)


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    """Proposals are filed by the assistant and decided by staff through their own flow: read-only here."""

    list_display = ("id", "created_at", "customer_name", "customer_tier", "order_id", "resolution", "state", "total")
    list_filter = ("state", "resolution", "customer_tier", "created_at")
    search_fields = ("customer_id", "customer_name", "order_id", "thread_id", "return_id")
    date_hierarchy = "created_at"
    readonly_fields = tuple(field.name for field in Proposal._meta.fields)

    @admin.display(description="Amount")
    def total(self, proposal: Proposal) -> str:
        return f"{proposal.total_cents // 100}.{proposal.total_cents % 100:02d}"

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
