"""Manual orders, promotions, and the history of product changes and cancellations."""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.urls import reverse

from core.db import transitions_guard as _transitions_guard
from core.models import TimeStampedModel
from hosting.models import BillingCycle, Domain

MONEY = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


# The only status changes there are (also enforced by a trigger).
ORDER_TRANSITIONS = {
    "pending": {"active", "cancelled", "fraud"},
    "active": {"cancelled", "fraud"},
    "fraud": {"cancelled"},
    "cancelled": set(),
}
CHANGE_TRANSITIONS = {"pending": {"applied", "withdrawn"}, "applied": set(), "withdrawn": set()}


# Promotions ----------------------------------------------------------------------------------


class PromotionQuerySet(models.QuerySet):
    def by_code(self, code: str) -> Promotion | None:
        return self.filter(code=code.strip().upper()).first() if code.strip() else None


class Promotion(TimeStampedModel):
    """A promotion code: a percentage or a fixed amount off, for some products and cycles."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage"
        FIXED = "fixed", "Fixed amount"

    code = models.CharField(
        max_length=40, unique=True, help_text="What staff type on the order; stored upper-case."
    )
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Percent off, or the amount off each unit.",
    )
    currency = models.CharField(
        max_length=3,
        choices=settings.CURRENCIES,
        blank=True,
        help_text="Fixed amounts only: the currency of the amount (other clients cannot use it).",
    )
    products = models.ManyToManyField(
        "hosting.Product", blank=True, related_name="promotions", help_text="None: every product."
    )
    cycles = ArrayField(
        models.CharField(max_length=15, choices=BillingCycle.choices),
        default=list,
        blank=True,
        help_text="Billing cycles it applies to; none: every cycle.",
    )
    recurring = models.BooleanField(
        default=False, help_text="Also lowers the recurring price (not only the first payment)."
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(default=0, help_text="0: unlimited.")
    uses = models.PositiveIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)

    objects = PromotionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code=Upper("code")), name="orders_promo_upper"),
            models.CheckConstraint(condition=~Q(code=""), name="orders_promo_code_set"),
            models.CheckConstraint(condition=Q(value__gt=0), name="orders_promo_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100),
                name="orders_promo_percent_max_100",
                violation_error_message="A percentage cannot be more than 100.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="fixed") | ~Q(currency=""),
                name="orders_promo_fixed_currency",
                violation_error_message="A fixed amount needs its currency.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="orders_promo_dates",
                violation_error_message="The end date is before the start date.",
            ),
            # The limit holds whatever writes the row: two orders racing for the last use.
            models.CheckConstraint(
                condition=Q(max_uses=0) | Q(uses__lte=models.F("max_uses")),
                name="orders_promo_max_uses",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)

    @property
    def summary(self) -> str:
        off = (
            f"{self.value.normalize()}%"
            if self.kind == self.Kind.PERCENT
            else (f"{self.value} {self.currency}")
        )
        return f"{off} off{' (recurring)' if self.recurring else ' the first payment'}"


# Orders --------------------------------------------------------------------------------------


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"
        FRAUD = "fraud", "Fraud"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.ACTIVE: "success", Status.PENDING: "warning", Status.FRAUD: "danger"}

    STATUS_TRANSITIONS = ORDER_TRANSITIONS

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    payment_method = models.CharField(max_length=20, blank=True)
    promotion = models.ForeignKey(
        Promotion, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    promotion_code = models.CharField(max_length=40, blank=True)
    send_confirmation = models.BooleanField("order confirmation email", default=True)
    generate_invoice = models.BooleanField(default=True)
    send_invoice_email = models.BooleanField(default=True)
    item_status = models.CharField(
        "status of what it creates",
        max_length=10,
        choices=[("pending", "Pending"), ("active", "Active")],
        default="pending",
    )
    first_payment_total = models.DecimalField(
        **MONEY, default=ZERO, help_text="Before taxes, after promotions."
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    price_override_reason = models.CharField(max_length=500, blank=True)
    admin_notes = models.TextField(blank=True)
    status_reason = models.CharField(max_length=500, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "active", "cancelled", "fraud"]),
                name="orders_order_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(accepted_at__isnull=False),
                name="orders_order_active_accepted",
            ),
            models.CheckConstraint(
                condition=Q(first_payment_total__gte=0), name="orders_order_total_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-id"], name="orders_order_client_idx"),
            models.Index(
                fields=["client", "-created_at", "-id"], name="orders_order_client_time_idx"
            ),
            models.Index(fields=["status", "-id"], name="orders_order_status_idx"),
            # The list filtered by status and the days it was placed: an index-only scan.
            models.Index(
                fields=["status", "created_at", "id"], name="orders_order_status_time_idx"
            ),
            models.Index(fields=["created_at", "id"], name="orders_order_created_idx"),
        ]
        triggers = [
            _transitions_guard("status_transitions", ORDER_TRANSITIONS, "Order"),
            # Deleting an accepted order would orphan what it created: cancel it instead.
            pgtrigger.Protect(
                name="accepted_undeletable",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__accepted_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("orders:order-detail", args=[self.pk])

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None


class OrderLine(models.Model):
    """One thing ordered, with its prices frozen at ordering time and, once the order is
    accepted, the record it created."""

    class Kind(models.TextChoices):
        PRODUCT = "product", "Product"
        DOMAIN = "domain", "Domain"
        ADDON = "addon", "Add-on"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    description = models.CharField(max_length=300)
    # Products
    product = models.ForeignKey(
        "hosting.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    server = models.ForeignKey(
        "hosting.Server", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hostname = models.CharField(max_length=253, blank=True, help_text="ASCII form.")
    billing_cycle = models.CharField(max_length=15, choices=BillingCycle.choices, blank=True)
    quantity = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    # Domains
    domain_name = models.CharField(max_length=253, blank=True, help_text="ASCII form.")
    domain_order_type = models.CharField(
        max_length=10, choices=Domain.OrderType.choices, blank=True
    )
    period_years = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    epp_code = models.CharField(max_length=500, blank=True, editable=False)  # Fernet token
    nameservers = ArrayField(models.CharField(max_length=253), default=list, blank=True)
    id_protection = models.BooleanField("ID protection", default=False)
    dns_management = models.BooleanField("DNS management", default=False)
    # Add-ons: for a product line of the same order, or an existing account of the client
    addon_definition = models.ForeignKey(
        "hosting.AddonDefinition",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    addon_name = models.CharField(max_length=150, blank=True)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    target_service = models.ForeignKey(
        "hosting.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Prices (the line's whole quantity)
    setup_fee = models.DecimalField(**MONEY, default=ZERO)
    first_period_amount = models.DecimalField(**MONEY, default=ZERO)
    discount = models.DecimalField(**MONEY, default=ZERO)
    recurring_amount = models.DecimalField(**MONEY, default=ZERO)
    price_overridden = models.BooleanField(default=False)
    # What accepting the order created
    service = models.ForeignKey(
        "hosting.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    addon = models.ForeignKey(
        "hosting.Addon", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    audit_secret_fields = ("epp_code",)

    class Meta:
        ordering = ["order", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="orders_line_position"),
            models.CheckConstraint(
                condition=~Q(kind="product") | Q(product__isnull=False),
                name="orders_line_product_set",
            ),
            models.CheckConstraint(
                condition=~Q(kind="domain") | (~Q(domain_name="") & Q(period_years__isnull=False)),
                name="orders_line_domain_set",
            ),
            models.CheckConstraint(
                condition=~Q(kind="addon")
                | (
                    (Q(addon_definition__isnull=False) | ~Q(addon_name=""))
                    & (Q(parent__isnull=False) | Q(target_service__isnull=False))
                ),
                name="orders_line_addon_set",
            ),
            models.CheckConstraint(
                condition=Q(setup_fee__gte=0)
                & Q(first_period_amount__gte=0)
                & Q(recurring_amount__gte=0)
                & Q(discount__gte=0)
                & Q(discount__lte=models.F("first_period_amount")),
                name="orders_line_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["service"], name="orders_line_service_idx"),
            models.Index(fields=["domain"], name="orders_line_domain_idx"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def first_payment(self) -> Decimal:
        return self.setup_fee + self.first_period_amount - self.discount

    @property
    def created_record(self):
        return self.service or self.domain or self.addon


# Product changes and cancellations -----------------------------------------------------------


# What a change row keeps for ever once written (its status and withdrawal fields move).
CHANGE_FROZEN_COLUMNS = (
    "service_id",
    "kind",
    "takes_effect",
    "old_product_id",
    "new_product_id",
    "old_cycle",
    "new_cycle",
    "currency",
    "old_amount",
    "new_amount",
    "period_start",
    "next_due_date",
    "days_in_period",
    "days_left",
    "credit_amount",
    "charge_amount",
    "difference",
    "settlement",
    "invoice_id",
    "credit_entry_id",
    "effective_date",
    "reason",
    "requested_by_id",
    "created_at",
)


class ServiceChange(models.Model):
    """One upgrade, downgrade or cancellation of a hosting account, as asked and as carried out.

    The figures are kept as they were computed; only the status moves (pending to applied or
    withdrawn), and the database refuses anything else.
    """

    class Kind(models.TextChoices):
        UPGRADE = "upgrade", "Upgrade"
        DOWNGRADE = "downgrade", "Downgrade"
        CANCELLATION = "cancellation", "Cancellation"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPLIED = "applied", "Applied"
        WITHDRAWN = "withdrawn", "Withdrawn"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.APPLIED: "success", Status.PENDING: "warning"}

    class When(models.TextChoices):
        ON_PAYMENT = "on_payment", "When the invoice is paid"
        IMMEDIATE = "immediate", "Immediately"
        END_OF_PERIOD = "end_of_period", "At the end of the billing period"

    class Settlement(models.TextChoices):
        INVOICE = "invoice", "Invoiced"
        CREDIT = "credit", "Credited"
        NONE = "none", "Nothing to settle"

    STATUS_TRANSITIONS = CHANGE_TRANSITIONS

    service = models.ForeignKey("hosting.Service", on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    takes_effect = models.CharField(max_length=15, choices=When.choices)
    old_product = models.ForeignKey("hosting.Product", on_delete=models.PROTECT, related_name="+")
    new_product = models.ForeignKey("hosting.Product", on_delete=models.PROTECT, related_name="+")
    old_cycle = models.CharField(max_length=15, choices=BillingCycle.choices)
    new_cycle = models.CharField(max_length=15, choices=BillingCycle.choices)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    old_amount = models.DecimalField("old recurring amount", **MONEY)
    new_amount = models.DecimalField("new recurring amount", **MONEY)
    price_overridden = models.BooleanField(default=False)
    # Proration, over the current period (period_start to next_due_date)
    period_start = models.DateField(null=True, blank=True)
    next_due_date = models.DateField(null=True, blank=True)
    days_in_period = models.PositiveIntegerField(default=0)
    days_left = models.PositiveIntegerField(default=0)
    credit_amount = models.DecimalField(**MONEY, default=ZERO)
    charge_amount = models.DecimalField(**MONEY, default=ZERO)
    difference = models.DecimalField(**MONEY, default=ZERO)
    settlement = models.CharField(
        max_length=10, choices=Settlement.choices, default=Settlement.NONE
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_changes",
    )
    credit_entry = models.ForeignKey(
        "billing.CreditEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    effective_date = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdraw_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "applied", "withdrawn"]),
                name="orders_change_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(applied_at__isnull=False),
                name="orders_change_applied_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="withdrawn") | ~Q(withdraw_reason=""),
                name="orders_change_withdrawn_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind="cancellation") | ~Q(reason=""),
                name="orders_change_cancellation_reason",
            ),
            models.CheckConstraint(
                condition=~Q(takes_effect="end_of_period") | Q(effective_date__isnull=False),
                name="orders_change_end_of_period_date",
            ),
            models.CheckConstraint(
                condition=Q(difference=models.F("charge_amount") - models.F("credit_amount")),
                name="orders_change_difference",
            ),
            # One open request of each sort per account.
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="pending", kind="cancellation"),
                name="orders_change_one_pending_cancellation",
                violation_error_message="This account already has a pending cancellation.",
            ),
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(status="pending", kind__in=["upgrade", "downgrade"]),
                name="orders_change_one_pending_change",
                violation_error_message="This account already has a pending product change.",
            ),
        ]
        indexes = [
            models.Index(fields=["service", "-id"], name="orders_change_service_idx"),
            models.Index(
                fields=["effective_date", "id"],
                condition=Q(status="pending", kind="cancellation"),
                name="orders_change_due_cancel_idx",
            ),
            models.Index(
                fields=["invoice"],
                condition=Q(invoice__isnull=False),
                name="orders_change_invoice_idx",
            ),
        ]
        triggers = [
            _transitions_guard("status_transitions", CHANGE_TRANSITIONS, "Service change"),
            pgtrigger.Trigger(
                name="figures_frozen",
                when=pgtrigger.Before,
                operation=pgtrigger.Update,
                func="""
                    IF ROW({new}) IS DISTINCT FROM ROW({old}) THEN
                        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                            'Service change ' || OLD.id || ': only its status can change';
                    END IF;
                    RETURN NEW;
                """.format(
                    new=", ".join(f"NEW.{c}" for c in CHANGE_FROZEN_COLUMNS),
                    old=", ".join(f"OLD.{c}" for c in CHANGE_FROZEN_COLUMNS),
                ),
            ),
            pgtrigger.Protect(name="undeletable", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("hosting:service-detail", args=[self.service_id]) + "?tab=changes"
