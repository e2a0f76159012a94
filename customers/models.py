"""Django-side records of the returns domain: admin-editable policy and staff limits.

The system of record for customers, orders, returns and credit is Cosmos DB (``customers.cosmos``);
these tables hold what admins configure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction

from customers.domain import Reason, Shipping, Tier
from customers.fields import ClockDateTimeField
from customers.policy import DEFAULT_POLICY, ReturnPolicy


def _names(values: Any) -> list[str]:
    return sorted(str(value) for value in values)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def default_fee_reasons() -> list[str]:
    return _names(DEFAULT_POLICY.restocking_fee_reasons)


def default_fee_exempt_tiers() -> list[str]:
    return _names(DEFAULT_POLICY.fee_exempt_tiers)


def default_free_shipping_reasons() -> list[str]:
    return _names(DEFAULT_POLICY.free_shipping_reasons)


def default_free_shipping_tiers() -> list[str]:
    return _names(DEFAULT_POLICY.free_shipping_tiers)


def choice_list_errors(instance: models.Model, checks: list[tuple[str, Any]]) -> dict[str, str]:
    """For JSON list fields that must hold values of an enum: field -> the message when one does not."""
    errors: dict[str, str] = {}
    for field_name, kind in checks:
        value = getattr(instance, field_name)
        allowed = {str(member) for member in kind}
        if not isinstance(value, list) or any(item not in allowed for item in value):
            errors[field_name] = f"A list drawn from: {', '.join(sorted(allowed))}."
    return errors


PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


class ReturnPolicySettings(models.Model):
    """The return policy as admins edit it. The newest active row is the policy in force."""

    name = models.CharField(max_length=120, default=DEFAULT_POLICY.name)
    is_active = models.BooleanField(default=True)
    default_return_window_days = models.PositiveIntegerField(
        default=DEFAULT_POLICY.default_return_window_days,
        help_text="Used for products that do not set their own window.",
    )
    restocking_fee_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=DEFAULT_POLICY.restocking_fee_percent, validators=PERCENT
    )
    restocking_fee_reasons = models.JSONField(
        default=default_fee_reasons, blank=True, help_text="Reasons that carry the fee."
    )
    fee_exempt_tiers = models.JSONField(
        default=default_fee_exempt_tiers, blank=True, help_text="Tiers that never pay the fee."
    )
    store_credit_bonus_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=DEFAULT_POLICY.store_credit_bonus_percent, validators=PERCENT
    )
    keep_discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=DEFAULT_POLICY.keep_discount_percent, validators=PERCENT
    )
    prepaid_label_cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("6.99"))
    pickup_cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("9.99"))
    drop_off_cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    return_to_store_cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    free_shipping_reasons = models.JSONField(default=default_free_shipping_reasons, blank=True)
    free_shipping_tiers = models.JSONField(default=default_free_shipping_tiers, blank=True)
    auto_approval_ceiling = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Largest refund plus store credit approved with no person: assistant mode and approval rules.",
    )
    refund_business_days = models.PositiveSmallIntegerField(
        default=DEFAULT_POLICY.refund_business_days,
        validators=[MaxValueValidator(60)],
        help_text="Business days, once a return reaches us, within which the refund is sent (the assistant says it).",
    )
    updated_at = ClockDateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "return policy"
        verbose_name_plural = "return policies"
        ordering = ("-updated_at",)

    def __str__(self) -> str:
        return f"{self.name}{'' if self.is_active else ' (inactive)'}"

    def clean(self) -> None:
        errors = choice_list_errors(
            self,
            [
                ("restocking_fee_reasons", Reason),
                ("free_shipping_reasons", Reason),
                ("fee_exempt_tiers", Tier),
                ("free_shipping_tiers", Tier),
            ],
        )
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        from customers.selectors.policy import forget_cached_policy

        forget_cached_policy()

    def to_policy(self) -> ReturnPolicy:
        return ReturnPolicy(
            name=self.name,
            version=self.pk or 0,
            default_return_window_days=self.default_return_window_days,
            restocking_fee_percent=Decimal(self.restocking_fee_percent),
            restocking_fee_reasons=frozenset(Reason(value) for value in self.restocking_fee_reasons),
            fee_exempt_tiers=frozenset(Tier(value) for value in self.fee_exempt_tiers),
            store_credit_bonus_percent=Decimal(self.store_credit_bonus_percent),
            keep_discount_percent=Decimal(self.keep_discount_percent),
            shipping_costs_cents={
                Shipping.PREPAID_LABEL: _cents(self.prepaid_label_cost),
                Shipping.PICKUP: _cents(self.pickup_cost),
                Shipping.DROP_OFF: _cents(self.drop_off_cost),
                Shipping.RETURN_TO_STORE: _cents(self.return_to_store_cost),
            },
            free_shipping_reasons=frozenset(Reason(value) for value in self.free_shipping_reasons),
            free_shipping_tiers=frozenset(Tier(value) for value in self.free_shipping_tiers),
            auto_approval_ceiling_cents=_cents(self.auto_approval_ceiling),
            refund_business_days=self.refund_business_days,
        )


class StaffProfile(models.Model):
    """What a staff member may approve on their own; above the limit a supervisor must."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    approval_limit = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Largest refund or credit this person may approve. Empty means no limit.",
    )

    def __str__(self) -> str:
        limit = "no limit" if self.approval_limit is None else f"limit {self.approval_limit}"
        return f"{self.user} ({limit})"

    @property
    def approval_limit_cents(self) -> int | None:
        return None if self.approval_limit is None else _cents(self.approval_limit)


class ProposalState(models.TextChoices):
    PROPOSED = "proposed", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    COMMITTING = "committing", "Committing"
    COMMITTED = "committed", "Committed"
    FAILED = "failed", "Failed"
    CLOSED = "closed", "Closed without a return"  # a failed commit a supervisor closed
    CANCELLED = "cancelled", "Return cancelled"  # committed, then cancelled and reversed


class Proposal(models.Model):
    """A return the assistant proposes, awaiting a decision. The assistant never writes returns itself.

    Everything shown to staff is frozen here as it was computed: the lines, the quote, and the evidence
    (each line's eligibility and the policy figures), so a decision can be audited later.
    """

    customer_id = models.CharField(max_length=64, db_index=True)
    customer_name = models.CharField(max_length=200)
    customer_tier = models.CharField(max_length=20)
    order_id = models.CharField(max_length=32)
    thread_id = models.CharField(max_length=64, db_index=True)
    # The summary the customer confirmed: confirming it twice files one proposal.
    submission_key = models.CharField(max_length=128)
    lines = models.JSONField()
    reason = models.CharField(max_length=40)
    resolution = models.CharField(max_length=40)
    shipping = models.CharField(max_length=40)
    quote = models.JSONField()
    evidence = models.JSONField()
    state = models.CharField(
        max_length=20, choices=ProposalState.choices, default=ProposalState.PROPOSED, db_index=True
    )
    # Bumped by every decision: a decision names the version it saw, so two agents cannot both act.
    version = models.PositiveIntegerField(default=1)
    return_id = models.CharField(max_length=32, blank=True)
    # Fixed at approval; the commit derives its ids from it, so a retried commit never writes a second return.
    approval_id = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by_rule = models.ForeignKey(
        "AutoApprovalRule", null=True, blank=True, on_delete=models.PROTECT, related_name="approvals"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    customer_message = models.TextField(blank=True, help_text="What the customer was told on rejection.")
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.TextField(blank=True)
    # Other open proposals of the customer asking for the same units (services/overlaps.py), both ways.
    overlaps = models.JSONField(default=list, blank=True)
    # Asked of a supervisor by an agent it is above the limit of (still waiting for a decision).
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalation_note = models.TextField(blank=True)
    # A change staff offered the customer (another resolution, or less back): it waits for the customer's answer.
    offer = models.JSONField(null=True, blank=True)
    # The quote's money in columns of their own, kept with the quote (save(), services.decisions._decide), so
    # insights sum a year of proposals from an index instead of reading every quote.
    refund_cents = models.BigIntegerField(default=0)
    store_credit_cents = models.BigIntegerField(default=0)
    bonus_cents = models.BigIntegerField(default=0)
    fees_cents = models.BigIntegerField(default=0)  # restocking fee and return shipping kept
    # How long the customer waited, kept when it happens (services.decisions, services.commit_progress): from
    # filing to the decision (decided_at - created_at), and to the first commit.
    decision_seconds = models.FloatField(null=True, blank=True)
    commit_seconds = models.FloatField(null=True, blank=True)
    created_at = ClockDateTimeField(auto_now_add=True)
    updated_at = ClockDateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(fields=("thread_id", "submission_key"), name="one_proposal_per_submission"),
        )
        # Insights read a period's proposals (bench/insights.py): by filing time, and by state within it; the
        # second covers the reason, resolution and money tables, read from the index alone.
        indexes = (
            models.Index(fields=("created_at", "state"), name="proposal_filed_state"),
            models.Index(
                fields=(
                    "created_at",
                    "state",
                    "reason",
                    "resolution",
                    "refund_cents",
                    "store_credit_cents",
                    "bonus_cents",
                    "fees_cents",
                ),
                name="proposal_money",
            ),
            models.Index(
                fields=("created_at", "decision_seconds", "commit_seconds", "decided_by_rule"), name="proposal_times"
            ),
        )
        permissions = (("approve_over_limit", "Can approve returns above their own approval limit"),)

    def __str__(self) -> str:
        return f"Proposal {self.pk} for {self.order_id} ({self.get_state_display()})"

    @property
    def total_cents(self) -> int:
        return int(self.quote.get("refund_cents", 0)) + int(self.quote.get("store_credit_cents", 0))

    @staticmethod
    def money_columns(quote: dict[str, Any]) -> dict[str, int]:
        """The quote's amounts as the money columns hold them."""

        def cents(key: str) -> int:
            return int(quote.get(key) or 0)

        return {
            "refund_cents": cents("refund_cents"),
            "store_credit_cents": cents("store_credit_cents"),
            "bonus_cents": cents("bonus_cents"),
            "fees_cents": cents("restocking_fee_cents") + cents("shipping_cost_cents"),
        }

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(self.money_columns(self.quote or {}))
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "quote" in update_fields:
            kwargs["update_fields"] = {*update_fields, *self.money_columns({})}
        adding = self._state.adding
        with transaction.atomic():  # the proposal and its line rows together, or neither
            super().save(*args, **kwargs)
            if update_fields is None or "lines" in update_fields:
                ProposalLine.keep(self, replace=not adding)


class ProposalLine(models.Model):
    """A proposal's lines as rows, kept with its ``lines`` (Proposal.save, services.decisions._decide), so
    insights count products over a year from one index instead of reading every proposal's JSON. The filing
    time and the reason are copied from the proposal: neither changes once it is filed."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="line_rows")
    filed_at = models.DateTimeField()
    reason = models.CharField(max_length=40)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField()

    class Meta:
        indexes = (models.Index(fields=("filed_at", "sku", "reason", "quantity", "name"), name="line_product"),)

    @classmethod
    def keep(cls, proposal: Proposal, replace: bool = True) -> None:
        """The proposal's line rows as its lines say (``replace``: it had rows before)."""
        if replace:
            cls.objects.filter(proposal_id=proposal.pk).delete()
        cls.objects.bulk_create(cls.rows(proposal))

    @classmethod
    def rows(cls, proposal: Proposal) -> list[ProposalLine]:
        return [
            cls(
                proposal_id=proposal.pk,
                filed_at=proposal.created_at,
                reason=proposal.reason,
                sku=str(line["sku"]),
                name=str(line.get("name") or ""),
                quantity=int(line["quantity"]),
            )
            for line in proposal.lines or []
        ]


class AutoApprovalRule(models.Model):
    """Proposals this rule approves without a person: all of its conditions must hold. Off unless enabled."""

    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=False)
    max_amount = models.DecimalField(
        max_digits=10, decimal_places=2, help_text="Largest refund plus store credit it may approve."
    )
    tiers = models.JSONField(default=list, blank=True, help_text="Customer tiers it applies to; empty means any.")
    reasons = models.JSONField(default=list, blank=True, help_text="Return reasons it applies to; empty means any.")
    resolutions = models.JSONField(default=list, blank=True, help_text="Resolutions it applies to; empty means any.")
    created_at = ClockDateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name}{'' if self.enabled else ' (off)'}"

    def clean(self) -> None:
        from customers.domain import Resolution

        errors = choice_list_errors(self, [("tiers", Tier), ("reasons", Reason), ("resolutions", Resolution)])
        if self.max_amount is not None and self.max_amount < 0:
            errors["max_amount"] = "Cannot be negative."
        if errors:
            raise ValidationError(errors)

    @property
    def max_amount_cents(self) -> int:
        return _cents(self.max_amount)


class AuditAction(models.TextChoices):
    APPROVE = "approve", "Approved"
    EDIT = "edit", "Edited and approved"
    OVERRIDE = "override", "Amount overridden"
    REJECT = "reject", "Rejected"
    AUTO_APPROVE = "auto_approve", "Approved by rule"
    COMMITTED = "committed", "Committed"
    COMMIT_FAILED = "commit_failed", "Commit failed"
    RETRY = "retry", "Commit retried"
    TAKE_OVER = "take_over", "Took over"
    HAND_BACK = "hand_back", "Handed back"
    MODE = "mode", "Mode changed"
    LIFECYCLE = "lifecycle", "Lifecycle step"
    MESSAGE = "message", "Staff message"
    REVIEW_NEEDED = "review_needed", "Left for review"
    CLOSE = "close", "Failed commit closed"
    CANCEL = "cancel", "Return cancelled"
    RESOLVE = "resolve", "Conversation resolved"
    REOPEN = "reopen", "Conversation reopened"
    ASSIGN = "assign", "Conversation assigned"
    NOTE = "note", "Internal note"
    ESCALATE = "escalate", "Asked a supervisor"
    OFFER = "offer", "Offered a change to the customer"
    OFFER_DECLINED = "offer_declined", "Customer kept their request"
    MCP_CALL = "mcp_call", "MCP tool call"
    MCP_TOKEN = "mcp_token", "MCP token issued"
    MCP_TOKEN_REVOKED = "mcp_token_revoked", "MCP token revoked"


class AuditEntry(models.Model):
    """Append-only record of every staff, rule or system action: who, when, on what, before and after."""

    created_at = ClockDateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rule = models.ForeignKey(AutoApprovalRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="The person, rule or system, as shown to people.")
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    proposal = models.ForeignKey(Proposal, null=True, blank=True, on_delete=models.PROTECT, related_name="audit")
    thread_id = models.CharField(max_length=64, blank=True, db_index=True)
    customer_id = models.CharField(max_length=64, blank=True)
    return_id = models.CharField(max_length=32, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "audit entries"
        # When each proposal was committed (insights' time to commit): one index range per action.
        indexes = (models.Index(fields=("action", "proposal"), name="audit_action_proposal"),)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.get_action_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("The audit log is append-only.")


class McpToken(models.Model):
    """A staff member's bearer token for the MCP server at /mcp/ (customers.services.mcp_tokens).

    Only the SHA-256 of the token is kept: the token itself is shown once, when it is made. The prefix names it
    in lists and the audit log. A revoked token, or one whose holder is no longer active staff, is refused.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mcp_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What it is for, e.g. the AI client or machine.")
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = ClockDateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "MCP token"
        verbose_name_plural = "MCP tokens"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.user}{', revoked' if self.revoked_at else ''})"
