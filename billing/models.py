"""Invoices, their lines, money in and out, the credit ledger and queued one-off charges.

Money rules that must hold whatever writes the row (a form, the Django admin, psql) live here as
constraints and triggers: a published invoice's amounts and lines never change and it is never
deleted; transactions, payment allocations and credit entries are never changed or deleted
(mistakes are corrected by new rows: refunds, reversals); a client's credit never goes below zero.
"""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from typing import Any

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone
from django_countries.fields import CountryField

from core.models import CheckedDecimalShape, DecimalShape, TimeStampedModel

MONEY: DecimalShape = {"max_digits": 12, "decimal_places": 2}
RATE: CheckedDecimalShape = {
    "max_digits": 6,
    "decimal_places": 3,
    "validators": [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
}
ZERO = Decimal("0.00")
NUMBER_FIELDS = {"number", "year", "month"}
# Columns a published invoice keeps for ever (the database refuses to change them).
FROZEN_FIELDS = (
    "client_id",
    "series_id",
    "number",
    "sequence",
    "currency",
    "issue_date",
    "due_date",
    "tax1_name",
    "tax1_rate",
    "tax2_name",
    "tax2_rate",
    "tax2_compound",
    "tax_rounding",
    "subtotal",
    "tax1_amount",
    "tax2_amount",
    "total",
    "public_notes",
)


def _guard(name: str, operation: pgtrigger.Operation, sql: str, **kwargs: Any) -> pgtrigger.Trigger:
    return pgtrigger.Trigger(
        name=name, when=pgtrigger.Before, operation=operation, func=sql, **kwargs
    )


# Configuration -------------------------------------------------------------------------------


class TaxRule(TimeStampedModel):
    """A tax rate for clients in a country (and region); the most specific active rule wins."""

    class Level(models.IntegerChoices):
        TAX1 = 1, "Tax 1"
        TAX2 = 2, "Tax 2"

    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.TAX1)
    name = models.CharField(max_length=50, help_text="Printed on invoices, e.g. VAT, GST, PST.")
    rate = models.DecimalField("rate (%)", **RATE)
    country = CountryField(blank=True, help_text="Blank: every country.")
    region = models.CharField(
        "state / region", max_length=100, blank=True, help_text="Blank: the whole country."
    )
    compound = models.BooleanField(
        default=False, help_text="Tax 2 only: charged on the amount plus tax 1."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["level", "country", "region"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100), name="billing_taxrule_rate_0_100"
            ),
            models.CheckConstraint(
                condition=Q(compound=False) | Q(level=2),
                name="billing_taxrule_compound_tax2",
                violation_error_message="Only tax 2 can be compound.",
            ),
            models.CheckConstraint(
                condition=Q(region="") | ~Q(country=""),
                name="billing_taxrule_region_needs_country",
                violation_error_message="A region needs a country.",
            ),
            models.UniqueConstraint(
                models.F("level"),
                models.F("country"),
                models.functions.Lower("region"),
                condition=Q(active=True),
                name="billing_taxrule_one_active",
                violation_error_message="An active rule for this level and place already exists.",
            ),
        ]

    def __str__(self) -> str:
        country = str(self.country.name or "")  # type: ignore[attr-defined]  # a Country, not str
        where = " / ".join(p for p in (country, self.region) if p)
        return f"{self.name} {self.rate.normalize()}% ({where or 'everywhere'})"


class InvoiceSeries(TimeStampedModel):
    """A numbering series: its own gap-free counter and number format."""

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    number_format = models.CharField(
        max_length=60,
        default="INV-{year}-{number:06d}",
        help_text="Python format with {number} and optionally {year} and {month}, "
        "e.g. INV-{year}-{number:06d}.",
    )
    reset_yearly = models.BooleanField(
        default=False, help_text="Start again at 1 each calendar year (the format needs {year})."
    )
    is_default = models.BooleanField("default series", default=False)

    # Once a number is issued these decide every later number: switching on the yearly restart
    # would start again at 1 among numbers already taken, and every later publish would clash.
    NUMBERING_FIELDS = ("number_format", "reset_yearly")

    class Meta:
        verbose_name_plural = "invoice series"
        ordering = ["code"]
        triggers = [
            _guard(
                "numbering_frozen_once_used",
                pgtrigger.Update,
                """
                IF EXISTS (
                    SELECT 1 FROM billing_invoicecounter
                    WHERE series_id = OLD.id AND last_number > 0
                ) THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Invoice series ' || OLD.code || ' has issued numbers: its format and '
                        || 'yearly restart cannot change; start a new series instead';
                END IF;
                RETURN NEW;
                """,
                condition=pgtrigger.Q(old__number_format__df=pgtrigger.F("new__number_format"))
                | pgtrigger.Q(old__reset_yearly__df=pgtrigger.F("new__reset_yearly")),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="billing_series_one_default",
                violation_error_message="Another series is already the default.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            fields = {
                name for _text, name, _spec, _conv in string.Formatter().parse(self.number_format)
            }
        except ValueError as exc:
            raise ValidationError({"number_format": str(exc)}, code="invalid_format") from exc
        fields.discard(None)
        if "number" not in fields or not fields <= NUMBER_FIELDS:
            raise ValidationError(
                {"number_format": "Use {number} and only {year} and {month} besides it."},
                code="invalid_format",
            )
        if self.reset_yearly and "year" not in fields:
            raise ValidationError(
                {"number_format": "A series that restarts every year needs {year} in its format."},
                code="invalid_format",
            )
        try:
            self.format_number(1, timezone.localdate())
        except (ValueError, TypeError) as exc:
            raise ValidationError({"number_format": str(exc)}, code="invalid_format") from exc
        if self.pk is not None and self.has_issued_numbers():
            stored = InvoiceSeries.objects.filter(pk=self.pk).values(*self.NUMBERING_FIELDS).get()
            changed = [f for f in self.NUMBERING_FIELDS if stored[f] != getattr(self, f)]
            if changed:
                raise ValidationError(
                    {
                        field: ValidationError(
                            "This series has issued numbers, so its numbering cannot change. "
                            "Start a new series and make it the default instead.",
                            code="series_in_use",
                        )
                        for field in changed
                    }
                )

    def has_issued_numbers(self) -> bool:
        return self.counters.filter(last_number__gt=0).exists()

    def format_number(self, number: int, issued: dt.date) -> str:
        return self.number_format.format(number=number, year=issued.year, month=issued.month)


class InvoiceCounter(models.Model):
    """The last number used in a series (per year when it restarts yearly).

    Publishing locks this row, so concurrent publishers queue here and each gets the next number;
    a rolled-back publish rolls the increment back too, so no number is ever skipped.
    """

    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT, related_name="counters")
    year = models.PositiveSmallIntegerField(help_text="0 when the series never restarts.")
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="billing_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}/{self.year}: {self.last_number}"


# Invoices ------------------------------------------------------------------------------------


class InvoiceQuerySet(models.QuerySet):
    def payable(self) -> InvoiceQuerySet:
        return self.filter(status__in=Invoice.PAYABLE)

    def with_balance_due(self) -> InvoiceQuerySet:
        """Each invoice's ``owed``: ``Invoice.balance_due`` computed by the database, for sums
        (the client's billing figures, the dashboard) that must agree with the page and PDF."""
        return self.annotate(
            owed=Case(
                When(status__in=Invoice.OWING, then=F("balance")),
                default=Value(ZERO),
                output_field=models.DecimalField(**MONEY),
            )
        )

    def overdue(self, today: dt.date | None = None) -> InvoiceQuerySet:
        return self.payable().filter(due_date__lt=today or timezone.localdate())


class Invoice(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        UNPAID = "unpaid", "Unpaid"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"
        REFUNDED = "refunded", "Refunded"
        COLLECTIONS = "collections", "Collections"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {
        Status.PAID: "success",
        Status.UNPAID: "warning",
        Status.COLLECTIONS: "danger",
        Status.DRAFT: "light border",
        Status.REFUNDED: "info",
    }

    class TaxRounding(models.TextChoices):
        INVOICE = "invoice", "Per invoice"
        LINE = "line", "Per line"

    # Only the moves staff choose; Draft → Unpaid is publishing, → Paid follows the money,
    # → Refunded follows a refund.
    STATUS_TRANSITIONS = {
        Status.UNPAID: {Status.CANCELLED, Status.COLLECTIONS},
        Status.COLLECTIONS: {Status.UNPAID, Status.CANCELLED},
        Status.CANCELLED: {Status.UNPAID},
        Status.PAID: set(),
        Status.REFUNDED: set(),
        Status.DRAFT: set(),
    }
    PAYABLE = (Status.UNPAID, Status.COLLECTIONS)
    # What the client still owes is total - paid on these; a Paid, Refunded or Cancelled
    # invoice owes nothing (a refund on a Paid invoice is money given back, not a new debt).
    OWING = (Status.DRAFT, *PAYABLE)
    # A record's period on an invoice in one of these is billed: not offered or billed again.
    BILLED = (*PAYABLE, Status.PAID)
    FROZEN_FIELDS = FROZEN_FIELDS

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="invoices")
    series = models.ForeignKey(InvoiceSeries, on_delete=models.PROTECT, related_name="invoices")
    # NULL, not "", while a draft: the unique constraint ignores NULLs, and "" would collide.
    number = models.CharField(max_length=60, null=True, blank=True, editable=False)  # noqa: DJ001
    sequence = models.PositiveIntegerField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    issue_date = models.DateField()
    due_date = models.DateField()
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    tax1_name = models.CharField("tax 1 name", max_length=50, blank=True)
    tax1_rate = models.DecimalField("tax 1 rate (%)", **RATE, default=ZERO)
    tax2_name = models.CharField("tax 2 name", max_length=50, blank=True)
    tax2_rate = models.DecimalField("tax 2 rate (%)", **RATE, default=ZERO)
    tax2_compound = models.BooleanField("tax 2 is compound", default=False)
    tax_rounding = models.CharField(
        max_length=10, choices=TaxRounding.choices, default=TaxRounding.INVOICE
    )
    subtotal = models.DecimalField(**MONEY, default=ZERO)
    tax1_amount = models.DecimalField("tax 1", **MONEY, default=ZERO)
    tax2_amount = models.DecimalField("tax 2", **MONEY, default=ZERO)
    total = models.DecimalField(**MONEY, default=ZERO)
    # Maintained by the services from the allocations (payments, credit, refunds).
    amount_paid = models.DecimalField(**MONEY, default=ZERO, editable=False)
    balance = models.GeneratedField(
        expression=F("total") - F("amount_paid"),
        output_field=models.DecimalField(**MONEY),
        db_persist=True,
    )
    paid_without_payment = models.BooleanField(default=False, editable=False)
    status_reason = models.CharField(max_length=500, blank=True, editable=False)
    public_notes = models.TextField(blank=True, help_text="Printed on the invoice.")
    private_notes = models.TextField(blank=True, help_text="Staff only; never printed.")

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        permissions = [
            ("mark_paid_without_payment", "Can mark an invoice paid without a payment"),
            ("cancel_paid_invoice", "Can cancel an invoice that has taken money"),
        ]
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number__isnull=True) & Q(sequence__isnull=True))
                | (~Q(status="draft") & Q(number__isnull=False) & Q(sequence__isnull=False)),
                name="billing_invoice_number_iff_published",
            ),
            models.UniqueConstraint(fields=["number"], name="billing_invoice_number_unique"),
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")),
                name="billing_invoice_due_after_issue",
                violation_error_message="The due date cannot be before the issue date.",
            ),
            models.CheckConstraint(
                condition=Q(tax1_amount__gte=0, tax2_amount__gte=0, total__gte=0),
                name="billing_invoice_amounts_not_negative",
                violation_error_message="An invoice cannot total less than zero.",
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0, amount_paid__lte=F("total")),
                name="billing_invoice_paid_within_total",
                violation_error_message="An invoice cannot be paid more than its total.",
            ),
            models.CheckConstraint(
                condition=Q(tax1_rate__gte=0, tax1_rate__lte=100, tax2_rate__gte=0)
                & Q(tax2_rate__lte=100),
                name="billing_invoice_rates_0_100",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="billing_invoice_status_idx"),
            models.Index(fields=["client", "-id"], name="billing_invoice_client_idx"),
            models.Index(
                fields=["client", "-created_at", "-id"], name="billing_invoice_cli_time_idx"
            ),
            models.Index(fields=["issue_date", "id"], name="billing_invoice_issued_idx"),
            models.Index(fields=["due_date", "id"], name="billing_invoice_due_idx"),
            models.Index(fields=["total", "id"], name="billing_invoice_total_idx"),
            models.Index(
                fields=["due_date", "id"],
                condition=Q(status__in=["unpaid", "collections"]),
                name="billing_invoice_payable_idx",
            ),
            models.Index(
                fields=["number"], name="billing_invoice_number_idx", opclasses=["text_pattern_ops"]
            ),
            # The dashboard's outstanding total per currency: an index-only scan of the payable
            # invoices, not a scan of every invoice.
            models.Index(
                fields=["currency", "status"],
                include=["balance"],
                condition=Q(status__in=["unpaid", "collections"]),
                name="billing_invoice_owed_idx",
            ),
        ]
        triggers = [
            _guard(
                "published_frozen",
                pgtrigger.Update,
                """
                IF NEW.status = 'draft' THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Invoice ' || OLD.id || ': a published invoice cannot return to draft';
                END IF;
                IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Invoice ' || OLD.id || ': a published invoice cannot be edited; '
                        || 'cancel, credit or refund it';
                END IF;
                RETURN NEW;
                """.format(
                    new=", ".join(f"NEW.{f}" for f in FROZEN_FIELDS),
                    old=", ".join(f"OLD.{f}" for f in FROZEN_FIELDS),
                ),
                condition=pgtrigger.Q(old__status__df="draft"),
            ),
            pgtrigger.Protect(
                name="published_undeletable",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__status__df="draft"),
            ),
            # A record's period is billed once: an invoice becoming unpaid, collections or paid
            # (publishing, reopening) may not bill a period another such invoice bills.
            _guard(
                "period_billed_once",
                pgtrigger.Update,
                # S608: constants (the statuses of Invoice.BILLED) are formatted in, never input.
                """
                IF NEW.status IN ({billed}) AND OLD.status NOT IN ({billed}) AND EXISTS (
                    SELECT 1 FROM billing_invoiceitem mine
                    JOIN billing_invoiceitem other
                        ON other.period_start = mine.period_start
                        AND other.invoice_id <> mine.invoice_id
                        AND (other.service_id = mine.service_id
                             OR other.domain_id = mine.domain_id
                             OR other.addon_id = mine.addon_id)
                    JOIN billing_invoice billed
                        ON billed.id = other.invoice_id AND billed.status IN ({billed})
                    WHERE mine.invoice_id = NEW.id AND mine.period_start IS NOT NULL
                ) THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Invoice ' || NEW.id || ': a period on it is already billed '
                        || 'on another invoice';
                END IF;
                RETURN NEW;
                """.format(billed=", ".join(f"'{s}'" for s in ("unpaid", "collections", "paid"))),  # noqa: S608
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice-detail", args=[self.pk])

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def balance_due(self) -> Decimal:
        """What the client still owes on this invoice: the one definition every page, PDF,
        email and figure shows (``InvoiceQuerySet.with_balance_due`` is its SQL twin)."""
        return self.balance if self.status in self.OWING else ZERO

    @property
    def refunded_amount(self) -> Decimal:
        """Money of this invoice's payments given back (uses prefetched allocations)."""
        return -sum(
            (
                a.amount
                for a in self.allocations.all()
                # transaction_id first: a null one is never loaded
                if a.transaction_id and a.amount < 0 and a.transaction.kind == "refund"  # type: ignore[union-attr]  # id checked
            ),
            ZERO,
        )

    @property
    def is_payable(self) -> bool:
        return self.status in self.PAYABLE and self.balance > 0

    @property
    def is_overdue(self) -> bool:
        return self.status in self.PAYABLE and self.due_date < timezone.localdate()

    @property
    def next_statuses(self) -> list[tuple[str, str]]:
        return [
            (s, Invoice.Status(s).label)
            for s in sorted(Invoice.STATUS_TRANSITIONS[Invoice.Status(self.status)])
        ]


class InvoiceItem(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", "Manual"
        SERVICE = "service", "Hosting account"
        DOMAIN = "domain", "Domain"
        ADDON = "addon", "Add-on"
        BILLABLE = "billable", "Billable item"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal(1), validators=[MinValueValidator(0)]
    )
    unit_price = models.DecimalField(**MONEY)
    taxed = models.BooleanField(default=True)
    amount = models.DecimalField(**MONEY, editable=False)
    service = models.ForeignKey(
        "hosting.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    addon = models.ForeignKey(
        "hosting.Addon", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The record's period this line bills (a renewal); paying the invoice moves the record's
    # next due date past it. Blank for charges that bill no period (an upgrade's difference).
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["invoice", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="billing_item_quantity_positive"
            ),
            models.CheckConstraint(
                condition=(Q(period_start__isnull=True) & Q(period_end__isnull=True))
                | (
                    Q(period_end__gte=F("period_start"))
                    & (
                        Q(service__isnull=False, domain__isnull=True, addon__isnull=True)
                        | Q(service__isnull=True, domain__isnull=False, addon__isnull=True)
                        | Q(service__isnull=True, domain__isnull=True, addon__isnull=False)
                    )
                ),
                name="billing_item_period_of_one_record",
                violation_error_message="A billed period needs its end and exactly one record.",
            ),
        ]
        indexes = [
            models.Index(fields=["service"], name="billing_item_service_idx"),
            models.Index(fields=["domain"], name="billing_item_domain_idx"),
            models.Index(fields=["addon"], name="billing_item_addon_idx"),
        ]
        triggers = [
            _guard(
                "lines_of_drafts_only",
                pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
                """
                IF EXISTS (
                    SELECT 1 FROM billing_invoice
                    WHERE status <> 'draft' AND id IN (
                        CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.invoice_id END,
                        CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.invoice_id END)
                ) THEN
                    RAISE EXCEPTION 'The lines of a published invoice cannot change'
                        USING ERRCODE = 'check_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return self.description[:80]


class BillableItem(TimeStampedModel):
    """A one-off charge queued on a client until it goes onto an invoice."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="billable_items"
    )
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal(1), validators=[MinValueValidator(0)]
    )
    unit_price = models.DecimalField(**MONEY)
    taxed = models.BooleanField(default=True)
    service = models.ForeignKey(
        "hosting.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The hosting account this charge relates to, if any.",
    )
    # Set while the charge is on an invoice; a deleted draft sends it back to the queue.
    invoice_item = models.OneToOneField(
        InvoiceItem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="billable_item",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="billing_billable_quantity_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["client", "-id"],
                condition=Q(invoice_item__isnull=True),
                name="billing_billable_queued_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.description[:80]

    @property
    def amount(self) -> Decimal:
        from billing.totals import money

        return money(self.quantity * self.unit_price)

    def get_absolute_url(self) -> str:
        return reverse("clients:client-detail", args=[self.client_id]) + "?tab=credit"


# Money ---------------------------------------------------------------------------------------


class Transaction(models.Model):
    """Money that moved: a payment in, a refund out, or other income and expenses.

    Never edited or deleted (the database refuses); a wrong payment is refunded.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        INCOME = "income", "Other income"
        EXPENSE = "expense", "Expense"

    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    gateway = models.CharField(max_length=30)
    transaction_id = models.CharField("transaction ID", max_length=100, blank=True)
    allow_duplicate_id = models.BooleanField(
        "allow a duplicate transaction ID", default=False, editable=False
    )
    date = models.DateTimeField()
    backdated = models.BooleanField(default=False, editable=False)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    amount_in = models.DecimalField(**MONEY, default=ZERO)
    amount_out = models.DecimalField(**MONEY, default=ZERO)
    fees = models.DecimalField(**MONEY, default=ZERO)
    description = models.CharField(max_length=500, blank=True)
    refund_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("refund_payment", "Can refund a payment"),
            ("backdate_transaction", "Can date a payment or transaction before today"),
        ]
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_in__gte=0, amount_out__gte=0, fees__gte=0),
                name="billing_txn_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=(Q(amount_in__gt=0) & Q(amount_out=0))
                | (Q(amount_in=0) & Q(amount_out__gt=0)),
                name="billing_txn_one_direction",
                violation_error_message="A transaction is money in or money out, not both.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="refund") | (Q(refund_of__isnull=False) & Q(amount_out__gt=0)),
                name="billing_txn_refund_shape",
            ),
            models.CheckConstraint(
                condition=~Q(kind="payment") | (Q(client__isnull=False) & Q(amount_in__gt=0)),
                name="billing_txn_payment_shape",
            ),
            models.UniqueConstraint(
                fields=["gateway", "transaction_id"],
                condition=~Q(transaction_id="") & Q(allow_duplicate_id=False),
                name="billing_txn_unique_gateway_id",
                violation_error_message="This gateway already has a transaction with this ID.",
                violation_error_code="duplicate_transaction_id",
            ),
        ]
        indexes = [
            models.Index(fields=["date", "id"], name="billing_txn_date_idx"),
            models.Index(fields=["gateway", "-id"], name="billing_txn_gateway_idx"),
            # A gateway's transactions over a period (the list's filter): an index-only scan.
            models.Index(fields=["gateway", "date", "id"], name="billing_txn_gateway_date_idx"),
            models.Index(fields=["client", "-id"], name="billing_txn_client_idx"),
            models.Index(fields=["client", "-date", "-id"], name="billing_txn_client_date_idx"),
            models.Index(fields=["transaction_id"], name="billing_txn_txnid_idx"),
            models.Index(fields=["refund_of"], name="billing_txn_refund_of_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="immutable", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        ref = f" {self.transaction_id}" if self.transaction_id else ""
        return f"{self.get_kind_display()} #{self.pk}{ref}"

    def get_absolute_url(self) -> str:
        return reverse("billing:transaction-detail", args=[self.pk])

    @property
    def amount(self) -> Decimal:
        return self.amount_in or -self.amount_out


class CreditEntry(models.Model):
    """One line of a client's credit ledger; the balance is the sum, never a typed number."""

    class Kind(models.TextChoices):
        ADDED = "added", "Credit added"
        REMOVED = "removed", "Credit removed"
        OVERPAYMENT = "overpayment", "Overpayment"
        APPLIED = "applied", "Applied to invoice"
        RETURNED = "returned", "Returned from cancelled invoice"
        REFUNDED = "refunded", "Refunded to the payer"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="credit_entries"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    amount = models.DecimalField(**MONEY)
    description = models.CharField(max_length=500)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="credit_entries"
    )
    transaction = models.ForeignKey(
        Transaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_entries",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("add_credit", "Can add credit to a client"),
            ("remove_credit", "Can remove credit from a client"),
        ]
        ordering = ["-id"]
        verbose_name_plural = "credit entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="billing_credit_not_zero"),
            models.CheckConstraint(
                condition=(Q(kind__in=["added", "overpayment", "returned"]) & Q(amount__gt=0))
                | (Q(kind__in=["removed", "applied", "refunded"]) & Q(amount__lt=0)),
                name="billing_credit_sign_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["client", "-id"], name="billing_credit_client_idx")]
        triggers = [
            pgtrigger.Protect(name="immutable", operation=pgtrigger.Update | pgtrigger.Delete),
            # The ledger can never say a client owes credit, whoever inserts the row.
            pgtrigger.Trigger(
                name="balance_not_negative",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                func="""
                IF (SELECT COALESCE(SUM(amount), 0) FROM billing_creditentry
                    WHERE client_id = NEW.client_id) < 0 THEN
                    RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                        'Client ' || NEW.client_id || ': credit balance cannot go below zero';
                END IF;
                RETURN NULL;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class Allocation(models.Model):
    """Money counted against an invoice: from a payment (+), a refund (-), applied credit (+)
    or paid money returned to credit when the invoice is cancelled (-)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations"
    )
    credit_entry = models.OneToOneField(
        CreditEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="allocation"
    )
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="billing_alloc_not_zero"),
            models.CheckConstraint(
                condition=(Q(transaction__isnull=False) & Q(credit_entry__isnull=True))
                | (Q(transaction__isnull=True) & Q(credit_entry__isnull=False)),
                name="billing_alloc_one_source",
            ),
        ]
        indexes = [
            models.Index(fields=["invoice", "id"], name="billing_alloc_invoice_idx"),
            models.Index(fields=["transaction"], name="billing_alloc_txn_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="immutable", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → invoice #{self.invoice_id}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("invoice",)

    def audit_name(self, related: dict[str, Any]) -> str:
        invoice = related.get("invoice")
        return f"{self.amount} → {invoice if invoice else f'invoice #{self.invoice_id}'}"

    @property
    def source_label(self) -> str:
        if self.credit_entry_id:
            return "Credit" if self.amount > 0 else "Returned to credit"
        return "Refund" if self.amount < 0 else "Payment"
