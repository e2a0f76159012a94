from django.contrib import admin

from customers.models import ReturnPolicySettings, StaffProfile


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
