from datetime import date, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import path, reverse

from customers import clock
from customers.cosmos.runner import loop_repository
from customers.errors import ReturnsError
from customers.models import (
    AuditEntry,
    AutoApprovalRule,
    McpToken,
    Proposal,
    ProposalState,
    ReturnPolicySettings,
    StaffProfile,
)
from customers.selectors.policy import active_policy
from customers.services import decisions, mcp_tokens, whatif
from customers.services.authority import is_supervisor

WHATIF_DAYS = 90  # the period replayed unless the admin picks another


async def _catalog_windows() -> dict[str, int]:
    return await whatif.product_windows(await loop_repository())


@admin.register(ReturnPolicySettings)
class ReturnPolicySettingsAdmin(admin.ModelAdmin):
    """Policies, with "What if…": the draft in the form replayed over a period's proposals before it is saved."""

    list_display = ("name", "is_active", "restocking_fee_percent", "store_credit_bonus_percent", "updated_at")
    list_filter = ("is_active",)
    readonly_fields = ("updated_at", "updated_by")
    change_form_template = "admin/customers/returnpolicysettings/change_form.html"

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[Any]:
        mine = [
            path(
                "whatif/",
                self.admin_site.admin_view(self.whatif_view),
                name="customers_returnpolicysettings_whatif",
            )
        ]
        return mine + super().get_urls()

    def render_change_form(self, request, context, *args, **kwargs):  # type: ignore[no-untyped-def]
        today = clock.store_today()
        context.update(whatif_from=(today - timedelta(days=WHATIF_DAYS - 1)).isoformat(), whatif_to=today.isoformat())
        return super().render_change_form(request, context, *args, **kwargs)

    def whatif_view(self, request: HttpRequest) -> HttpResponse:
        """The draft from the change form, replayed; nothing is saved (the page offers to save it as it stands)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request) and not self.has_add_permission(request):
            raise PermissionDenied
        original = request.POST.get("_original") or ""
        instance = self.get_object(request, original) if original.isdigit() else None
        form = self.get_form(request, instance)(request.POST, instance=instance)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "What if this policy were in force?",
            "form": form,
            "save_url": reverse(
                "admin:customers_returnpolicysettings_change"
                if instance
                else "admin:customers_returnpolicysettings_add",
                args=[instance.pk] if instance else [],
            ),
            "posted": [
                (key, value)
                for key, values in request.POST.lists()
                for value in values
                if key not in ("csrfmiddlewaretoken", "_whatif", "_original", "whatif_from", "whatif_to")
            ],
        }
        try:
            first = date.fromisoformat(request.POST.get("whatif_from", ""))
            last = date.fromisoformat(request.POST.get("whatif_to", ""))
        except ValueError:
            context["problem"] = "The period's dates are written YYYY-MM-DD."
            return render(request, "admin/customers/returnpolicysettings/whatif.html", context, status=400)
        if first > last or (last - first).days > 366:
            context["problem"] = "The period runs forwards and covers at most a year."
            return render(request, "admin/customers/returnpolicysettings/whatif.html", context, status=400)
        if not form.is_valid():
            context["problem"] = "The draft has errors: go back to the form to correct them."
            return render(request, "admin/customers/returnpolicysettings/whatif.html", context, status=400)
        draft = form.save(commit=False).to_policy()
        current = active_policy()
        result = whatif.replay(whatif.proposals_between(first, last), draft, async_to_sync(_catalog_windows)())
        context.update(
            result=result,
            period=(first, last),
            changes=[
                (name, getattr(current, name), getattr(draft, name))
                for name in WHATIF_FIELDS
                if getattr(current, name) != getattr(draft, name)
            ],
        )
        return render(request, "admin/customers/returnpolicysettings/whatif.html", context)


# What the what-if page lists as changed, in the admin's words
WHATIF_FIELDS = (
    "default_return_window_days",
    "restocking_fee_percent",
    "store_credit_bonus_percent",
    "keep_discount_percent",
    "shipping_costs_cents",
    "refund_business_days",
    "fee_exempt_tiers",
    "free_shipping_tiers",
    "restocking_fee_reasons",
    "free_shipping_reasons",
)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "approval_limit")
    search_fields = ("user__username",)


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    """Proposals are filed by the assistant and decided by staff through their own flow: read-only here."""

    list_display = (
        "id",
        "created_at",
        "customer_name",
        "customer_tier",
        "order_id",
        "resolution",
        "state",
        "total",
        "decided_by",
    )
    list_filter = ("state", "decided_by", "decided_by_rule", "resolution", "customer_tier", "created_at")
    actions = ("retry_failed_commits",)
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

    @admin.action(description="Retry the commit of the selected failed proposals", permissions=["retry"])
    def retry_failed_commits(self, request, queryset: QuerySet[Proposal]) -> None:  # type: ignore[no-untyped-def]
        retried, skipped = 0, []
        for proposal in queryset.filter(state=ProposalState.FAILED):
            try:
                decisions.retry_commit(proposal_id=proposal.pk, user=request.user)
                retried += 1
            except ReturnsError as refused:
                skipped.append(f"#{proposal.pk}: {refused.message}")
        others = queryset.exclude(state=ProposalState.FAILED).count()
        self.message_user(request, f"Sent {retried} commit(s) again.", messages.SUCCESS if retried else messages.INFO)
        if others or skipped:
            detail = "; ".join(skipped) or f"{others} selected proposal(s) had not failed and were left alone."
            self.message_user(request, detail, messages.WARNING)

    def has_retry_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return is_supervisor(request.user)


@admin.register(AutoApprovalRule)
class AutoApprovalRuleAdmin(admin.ModelAdmin):
    """Rules that approve proposals without a person; every approval they make is in the audit log."""

    list_display = ("name", "enabled", "max_amount", "tiers", "reasons", "resolutions")
    list_filter = ("enabled",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Append-only: nothing here can be added, changed or deleted."""

    list_display = ("created_at", "actor_label", "action", "proposal", "thread_id", "return_id", "note")
    list_filter = ("action", "actor", "rule", "created_at")
    search_fields = ("actor_label", "thread_id", "customer_id", "return_id", "note")
    date_hierarchy = "created_at"
    readonly_fields = tuple(field.name for field in AuditEntry._meta.fields)

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(McpToken)
class McpTokenAdmin(admin.ModelAdmin):
    """Staff's bearer tokens for /mcp/: made here (the token is shown once, on saving) and revoked with the action.
    The stored hash is never shown."""

    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "user")
    search_fields = ("prefix", "name", "user__username")
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_tokens",)

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        made = ("prefix", "created_at", "last_used_at", "revoked_at")
        return ("user", *made) if obj is not None else made

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj: McpToken, form: Any, change: bool) -> None:  # type: ignore[no-untyped-def]
        if change:
            super().save_model(request, obj, form, change)  # only the name can change
            return
        plain, row = mcp_tokens.create_token(obj.user, obj.name, row=obj, issued_by=request.user)
        messages.success(
            request,
            f"MCP token for {row.user.get_username()}: {plain} Copy it now: it is shown only this once "
            "(only its hash is kept). The AI client sends it as “Authorization: Bearer <token>” to /mcp/.",
        )

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # revoke instead: the record of who held which token stays

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke_tokens(self, request, queryset: QuerySet[McpToken]) -> None:  # type: ignore[no-untyped-def]
        revoked = sum(mcp_tokens.revoke(row, by=request.user) for row in queryset.select_related("user"))
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS if revoked else messages.INFO)
