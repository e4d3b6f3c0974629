"""Affiliates: clients who refer others, their referrals, the commission ledger and payouts.

The balance is never stored: it is the cleared and paid commissions minus the payouts, summed
from the ledger (``Affiliate.objects.with_balances()``).
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from core.db import transitions_guard
from core.models import DecimalShape, TimeStampedModel

MONEY: DecimalShape = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")
CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,29}$"

COMMISSION_TRANSITIONS = {
    "pending": {"cleared", "reversed"},
    "cleared": {"paid", "reversed"},
    # Paid out: what was paid stays on the ledger; taking it back is a clawback line.
    "paid": set(),
    "reversed": set(),
}


def _sum(queryset: models.QuerySet, field: str = "amount") -> Coalesce:
    return Coalesce(
        Subquery(
            queryset.order_by().values("affiliate").annotate(total=Sum(field)).values("total")[:1],
            output_field=DecimalField(**MONEY),
        ),
        Value(ZERO),
        output_field=DecimalField(**MONEY),
    )


class AffiliateQuerySet(models.QuerySet):
    def with_balances(self) -> AffiliateQuerySet:
        """Earned (cleared + paid), pending, paid out and balance, from the ledger."""
        mine = {"affiliate": OuterRef("pk")}
        return self.annotate(
            earned=_sum(Commission.objects.filter(**mine, status__in=["cleared", "paid"])),
            pending=_sum(Commission.objects.filter(**mine, status="pending")),
            paid_out=_sum(Payout.objects.filter(**mine)),
        ).annotate(balance=F("earned") - F("paid_out"))


class Affiliate(TimeStampedModel):
    """A client enrolled to refer others, with its own commission terms."""

    class CommissionType(models.TextChoices):
        DEFAULT = "default", "Default rate"
        PERCENTAGE = "percentage", "Percentage of the invoice"
        FIXED = "fixed", "Fixed amount per referral"

    client = models.OneToOneField(
        "clients.Client", on_delete=models.PROTECT, related_name="affiliate"
    )
    code = models.CharField(
        "referral code",
        max_length=30,
        unique=True,
        validators=[RegexValidator(CODE_PATTERN, "3-30 capital letters, digits or dashes.")],
    )
    commission_type = models.CharField(
        max_length=10, choices=CommissionType.choices, default=CommissionType.DEFAULT
    )
    commission_value = models.DecimalField(
        "commission",
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="A percentage (e.g. 12.50) or an amount in the affiliate's currency.",
    )
    payout_threshold = models.DecimalField(
        **MONEY, validators=[MinValueValidator(ZERO)], help_text="No payout below this amount."
    )
    active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = AffiliateQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=CODE_PATTERN), name="affiliates_code_format"
            ),
            models.CheckConstraint(
                condition=Q(commission_type="default", commission_value__isnull=True)
                | Q(commission_type__in=["percentage", "fixed"], commission_value__gt=0),
                name="affiliates_commission_terms",
                violation_error_message="A custom commission needs a value; the default none.",
            ),
            models.CheckConstraint(
                condition=~Q(commission_type="percentage") | Q(commission_value__lte=100),
                name="affiliates_percentage_max_100",
            ),
            models.CheckConstraint(
                condition=Q(payout_threshold__gte=0), name="affiliates_threshold_positive"
            ),
        ]
        indexes = [models.Index(fields=["active", "code"], name="affiliates_active_idx")]

    def __str__(self) -> str:
        return self.code

    def get_absolute_url(self) -> str:
        return reverse("affiliates:affiliate-detail", args=[self.pk])

    @property
    def terms(self) -> str:
        if self.commission_type == self.CommissionType.PERCENTAGE:
            return f"{self.commission_value}% of each paid invoice"
        if self.commission_type == self.CommissionType.FIXED:
            return f"{self.commission_value} per referral"
        return f"default ({settings.AFFILIATE_DEFAULT_COMMISSION_PERCENT}%)"


class Referral(models.Model):
    """A client, or one hosting account, that an affiliate brought in (entered by hand)."""

    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="referrals")
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    service = models.ForeignKey(
        "hosting.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True, editable=False)
    replaced_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(client__isnull=False, service__isnull=True)
                | Q(client__isnull=True, service__isnull=False),
                name="affiliates_referral_one_target",
            ),
            # One current referral per client and per hosting account.
            models.UniqueConstraint(
                fields=["client"], condition=Q(active=True), name="affiliates_one_per_client"
            ),
            models.UniqueConstraint(
                fields=["service"], condition=Q(active=True), name="affiliates_one_per_service"
            ),
            models.CheckConstraint(
                condition=Q(active=True, replaced_at__isnull=True)
                | Q(active=False, replaced_at__isnull=False),
                name="affiliates_referral_replaced",
            ),
        ]
        indexes = [
            models.Index(fields=["affiliate", "-created_at"], name="affiliates_referral_aff_idx")
        ]

    def __str__(self) -> str:
        target = f"client #{self.client_id}" if self.client_id else f"service #{self.service_id}"
        return f"{target} referred by affiliate #{self.affiliate_id}"

    def get_absolute_url(self) -> str:
        return reverse("affiliates:affiliate-detail", args=[self.affiliate_id])


class Payout(models.Model):
    """Money paid to an affiliate: recorded by hand, as a transaction out, or as credit."""

    class Method(models.TextChoices):
        MANUAL = "manual", "Paid outside the system (recorded here only)"
        TRANSACTION = "transaction", "Money out (a transaction)"
        CREDIT = "credit", "Credit on the affiliate's client account"

    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(**MONEY)
    method = models.CharField(max_length=12, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=500, blank=True)
    transaction = models.ForeignKey(
        "billing.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_entry = models.ForeignKey(
        "billing.CreditEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("pay_out_affiliate", "Can pay out an affiliate"),
        ]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="affiliates_payout_positive"),
            models.CheckConstraint(
                condition=(Q(method="transaction") & Q(transaction__isnull=False))
                | (Q(method="credit") & Q(credit_entry__isnull=False))
                | (Q(method="manual") & Q(transaction__isnull=True, credit_entry__isnull=True)),
                name="affiliates_payout_method_link",
            ),
        ]
        indexes = [
            models.Index(fields=["affiliate", "-created_at"], name="affiliates_payout_aff_idx")
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk}: {self.amount}"

    def get_absolute_url(self) -> str:
        return reverse("affiliates:affiliate-detail", args=[self.affiliate_id]) + "#payouts"


class Commission(TimeStampedModel):
    """One line of an affiliate's ledger.

    A commission earns a positive amount on a paid invoice (or, with a reason, on no invoice).
    Taking back a commission that was already paid out (its invoice refunded, or staff reverse
    it) adds a *clawback*: a negative, cleared line pointing at the commission, so the balance
    shows what the affiliate owes and the ledger says why.
    """

    class Kind(models.TextChoices):
        COMMISSION = "commission", "Commission"
        CLAWBACK = "clawback", "Clawback"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLEARED = "cleared", "Cleared"
        PAID = "paid", "Paid"
        REVERSED = "reversed", "Reversed"

    STATUS_TRANSITIONS = COMMISSION_TRANSITIONS

    affiliate = models.ForeignKey(Affiliate, on_delete=models.PROTECT, related_name="commissions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COMMISSION)
    amount = models.DecimalField(**MONEY)
    clawback_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="clawbacks",
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        verbose_name="related invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="commissions"
    )
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    clears_on = models.DateField(help_text="Pending until this date, then cleared by the job.")
    cleared_at = models.DateTimeField(null=True, blank=True, editable=False)
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="commissions"
    )
    reversed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reversal_reason = models.CharField(max_length=500, blank=True, editable=False)
    reversed_by_refund = models.ForeignKey(
        "billing.Transaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="commission", amount__gt=0, clawback_of__isnull=True)
                | Q(kind="clawback", amount__lt=0, clawback_of__isnull=False, status="cleared"),
                name="affiliates_commission_pos",
                violation_error_message="A commission is more than zero; a clawback is less, "
                "cleared, and names the commission it takes back.",
            ),
            models.UniqueConstraint(
                fields=["clawback_of"],
                condition=Q(clawback_of__isnull=False),
                name="affiliates_one_clawback",
                violation_error_message="This commission is already clawed back.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "cleared", "paid", "reversed"]),
                name="affiliates_commission_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(payout__isnull=False),
                name="affiliates_paid_has_payout",
            ),
            models.CheckConstraint(
                condition=~Q(status="reversed") | ~Q(reversal_reason=""),
                name="affiliates_reversed_has_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["affiliate", "status", "-created_at"], name="affiliates_comm_aff_idx"
            ),
            models.Index(
                fields=["clears_on", "id"],
                name="affiliates_comm_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["invoice"], name="affiliates_comm_invoice_idx"),
        ]
        triggers = [
            transitions_guard("status_transitions", COMMISSION_TRANSITIONS, "Commission"),
            # The amount and what it was for are fixed once entered (reverse and re-enter).
            pgtrigger.Protect(
                name="frozen_amount",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange(
                    "amount", "affiliate", "invoice", "kind", "clawback_of"
                ),
            ),
            # "Of each paid invoice": a commission for an invoice needs the invoice paid.
            pgtrigger.Trigger(
                name="earned_on_paid_invoices",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert,
                condition=pgtrigger.Q(new__kind="commission", new__invoice__isnull=False),
                func="""
                IF NOT EXISTS (
                    SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status = 'paid'
                ) THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Commission: only a paid invoice earns commission (invoice '
                        || NEW.invoice_id || ')';
                END IF;
                RETURN NEW;
                """,
            ),
            pgtrigger.Protect(name="undeletable", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.amount} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("affiliates:affiliate-detail", args=[self.affiliate_id]) + "#commissions"
