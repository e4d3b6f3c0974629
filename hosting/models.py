from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.db import transitions_guard
from core.inputs import record_id
from core.models import DecimalShape, TimeStampedModel

MONEY: DecimalShape = {"max_digits": 12, "decimal_places": 2}
ZERO = Decimal("0.00")


class BillingCycle(models.TextChoices):
    ONE_TIME = "one_time", "One-time"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUALLY = "semiannually", "Semi-annually"
    ANNUALLY = "annually", "Annually"
    BIENNIALLY = "biennially", "Biennially"
    TRIENNIALLY = "triennially", "Triennially"


CYCLE_MONTHS = {
    BillingCycle.ONE_TIME: 0,
    BillingCycle.MONTHLY: 1,
    BillingCycle.QUARTERLY: 3,
    BillingCycle.SEMIANNUALLY: 6,
    BillingCycle.ANNUALLY: 12,
    BillingCycle.BIENNIALLY: 24,
    BillingCycle.TRIENNIALLY: 36,
}


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months``, clamped to the end of shorter months (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _price_checks(prefix: str, *fields: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=Q(**{f"{f}__gte": 0}), name=f"{prefix}_{f}_not_negative")
        for f in fields
    ]


# Catalog ------------------------------------------------------------------------------------


class ProductGroup(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    display_order = models.PositiveSmallIntegerField(default=0)
    hidden = models.BooleanField(default=False)

    class Meta:
        ordering = ["display_order", "name"]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    class Type(models.TextChoices):
        SHARED = "shared", "Shared hosting"
        RESELLER = "reseller", "Reseller hosting"
        SERVER = "server", "VPS / server"
        OTHER = "other", "Other"

    group = models.ForeignKey(ProductGroup, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=150)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.SHARED)
    description = models.TextField(blank=True)
    hidden = models.BooleanField(default=False, help_text="Not offered for new orders.")
    retired = models.BooleanField(
        default=False, help_text="No longer sold; existing services keep it."
    )
    display_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["group__display_order", "display_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="hosting_product_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ProductPrice(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    cycle = models.CharField("billing cycle", max_length=15, choices=BillingCycle.choices)
    price = models.DecimalField(**MONEY)
    setup_fee = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        ordering = ["currency", "cycle"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "currency", "cycle"], name="hosting_productprice_unique"
            ),
            *_price_checks("hosting_productprice", "price", "setup_fee"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.currency} {self.cycle}: {self.price}"


class Server(TimeStampedModel):
    class Type(models.TextChoices):
        CPANEL = "cpanel", "cPanel"
        PLESK = "plesk", "Plesk"
        DIRECTADMIN = "directadmin", "DirectAdmin"
        VIRTUALIZOR = "virtualizor", "Virtualizor"
        OTHER = "other", "Other"

    name = models.CharField(max_length=100, unique=True)
    hostname = models.CharField("host name", max_length=253)
    ip_addresses = ArrayField(
        models.GenericIPAddressField(), verbose_name="IP addresses", default=list, blank=True
    )
    type = models.CharField(max_length=15, choices=Type.choices, default=Type.CPANEL)
    capacity = models.PositiveIntegerField(default=200, help_text="Accounts it can hold.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tld(TimeStampedModel):
    """A top-level domain (or public suffix such as co.uk) we sell, as its ASCII form."""

    name = models.CharField("TLD", max_length=63, unique=True, help_text="Without dot: com, co.uk")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "TLD"

    def __str__(self) -> str:
        from hosting.domains import to_unicode

        return f".{to_unicode(self.name)}"


class TldPrice(TimeStampedModel):
    tld = models.ForeignKey(Tld, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    years = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    register = models.DecimalField(**MONEY)
    transfer = models.DecimalField(**MONEY)
    renew = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["currency", "years"]
        constraints = [
            models.UniqueConstraint(
                fields=["tld", "currency", "years"], name="hosting_tldprice_unique"
            ),
            models.CheckConstraint(
                condition=Q(years__gte=1, years__lte=10), name="hosting_tldprice_years_1_10"
            ),
            *_price_checks("hosting_tldprice", "register", "transfer", "renew"),
        ]

    def __str__(self) -> str:
        return f"{self.tld_id} {self.currency} {self.years}y"


class AddonDefinition(TimeStampedModel):
    name = models.CharField(max_length=150, unique=True)
    description = models.CharField(max_length=300, blank=True)
    products = models.ManyToManyField(
        Product, related_name="addon_definitions", blank=True, help_text="Products it applies to."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "add-on definition"

    def __str__(self) -> str:
        return self.name


class AddonPrice(TimeStampedModel):
    addon = models.ForeignKey(AddonDefinition, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    cycle = models.CharField("billing cycle", max_length=15, choices=BillingCycle.choices)
    price = models.DecimalField(**MONEY)
    setup_fee = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["addon", "currency", "cycle"], name="hosting_addonprice_unique"
            ),
            *_price_checks("hosting_addonprice", "price", "setup_fee"),
        ]

    def __str__(self) -> str:
        return f"{self.addon_id} {self.currency} {self.cycle}: {self.price}"


# Services -----------------------------------------------------------------------------------


class ServiceQuerySet(models.QuerySet):
    def search(self, text: str) -> ServiceQuerySet:
        from hosting.domains import to_ascii_prefix

        text = text.strip().lower()
        if not text:
            return self
        condition = Q(domain__startswith=to_ascii_prefix(text) or text)
        condition |= Q(username__startswith=text)
        if (number := record_id(text)) is not None:
            condition |= Q(pk=number)
        return self.filter(condition)


class Service(TimeStampedModel):
    """A hosting account the company set up by hand."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"
        CANCELLED = "cancelled", "Cancelled"
        FRAUD = "fraud", "Fraud"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {
        Status.ACTIVE: "success",
        Status.PENDING: "info",
        Status.SUSPENDED: "warning",
        Status.FRAUD: "danger",
    }

    # The only status changes there are; each is an explicit action with a reason.
    STATUS_TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED, Status.FRAUD},
        Status.ACTIVE: {Status.SUSPENDED, Status.TERMINATED, Status.CANCELLED, Status.FRAUD},
        Status.SUSPENDED: {Status.ACTIVE, Status.TERMINATED, Status.CANCELLED, Status.FRAUD},
        Status.TERMINATED: set(),
        Status.CANCELLED: {Status.ACTIVE},
        Status.FRAUD: {Status.CANCELLED},
    }

    audit_secret_fields = ("password",)

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="services")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="services")
    server = models.ForeignKey(
        Server, on_delete=models.PROTECT, null=True, blank=True, related_name="services"
    )
    domain = models.CharField(max_length=253, blank=True, help_text="Stored in ASCII form.")
    username = models.CharField(max_length=64, blank=True)
    password = models.CharField(max_length=500, blank=True, editable=False)  # Fernet token
    dedicated_ip = models.GenericIPAddressField("dedicated IP", null=True, blank=True)
    assigned_ips = ArrayField(
        models.GenericIPAddressField(), verbose_name="assigned IPs", default=list, blank=True
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    registration_date = models.DateField()
    billing_cycle = models.CharField(max_length=15, choices=BillingCycle.choices)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    first_payment_amount = models.DecimalField(**MONEY)
    recurring_amount = models.DecimalField(**MONEY)
    price_overridden = models.BooleanField(default=False, editable=False)
    next_due_date = models.DateField(null=True, blank=True)
    termination_date = models.DateField(null=True, blank=True)
    payment_method = models.CharField(max_length=20, blank=True)
    quantity = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    admin_notes = models.TextField(blank=True)
    suspension_reason = models.CharField(max_length=300, blank=True)
    override_autosuspend_until = models.DateField(
        "override auto-suspend until", null=True, blank=True
    )

    objects = ServiceQuerySet.as_manager()

    class Meta:
        permissions = [
            ("override_price", "Can set a price other than the catalog's"),
        ]
        ordering = ["-id"]
        constraints = [
            *_price_checks("hosting_service", "first_payment_amount", "recurring_amount"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="hosting_service_quantity"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "active",
                        "suspended",
                        "terminated",
                        "cancelled",
                        "fraud",
                    ]
                ),
                name="hosting_service_status",
            ),
            models.CheckConstraint(
                condition=~Q(status="suspended") | ~Q(suspension_reason=""),
                name="hosting_service_suspended_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-id"], name="hosting_service_client_idx"),
            models.Index(fields=["status", "-id"], name="hosting_service_status_idx"),
            models.Index(fields=["product", "-id"], name="hosting_service_product_idx"),
            models.Index(fields=["server", "-id"], name="hosting_service_server_idx"),
            models.Index(fields=["next_due_date", "id"], name="hosting_service_due_idx"),
            models.Index(
                fields=["domain"], name="hosting_service_domain_idx", opclasses=["text_pattern_ops"]
            ),
            models.Index(
                fields=["username"], name="hosting_service_user_idx", opclasses=["text_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        # No foreign keys here: the audit trail names rows from snapshots without queries.
        from hosting.domains import to_unicode

        return f"{to_unicode(self.domain)} (#{self.pk})" if self.domain else f"Service #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("hosting:service-detail", args=[self.pk])


class SecretReveal(models.Model):
    """Someone looked at a stored secret. Written so the audit trail shows who and when."""

    class Field(models.TextChoices):
        SERVICE_PASSWORD = "service_password", "Hosting account password"
        EPP_CODE = "epp_code", "EPP code"

    field = models.CharField(max_length=20, choices=Field.choices)
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="reveals"
    )
    domain = models.ForeignKey(
        "Domain", on_delete=models.PROTECT, null=True, blank=True, related_name="reveals"
    )
    revealed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("reveal_secret", "Can reveal a stored password or EPP code"),
        ]
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(service__isnull=False) | Q(domain__isnull=False),
                name="hosting_secretreveal_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_field_display()} revealed"


# Domains ------------------------------------------------------------------------------------


class DomainQuerySet(models.QuerySet):
    def search(self, text: str) -> DomainQuerySet:
        from hosting.domains import to_ascii_prefix

        prefix = to_ascii_prefix(text)
        if not prefix:
            return self if not text.strip() else self.none()
        return self.filter(name__startswith=prefix)


class Domain(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        TRANSFERRED_AWAY = "transferred_away", "Transferred away"
        CANCELLED = "cancelled", "Cancelled"
        FRAUD = "fraud", "Fraud"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {
        Status.ACTIVE: "success",
        Status.PENDING: "info",
        Status.EXPIRED: "warning",
        Status.FRAUD: "danger",
    }

    class OrderType(models.TextChoices):
        REGISTER = "register", "Register"
        TRANSFER = "transfer", "Transfer"
        EXISTING = "existing", "Existing (registered elsewhere)"

    STATUS_TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED, Status.FRAUD},
        Status.ACTIVE: {Status.EXPIRED, Status.TRANSFERRED_AWAY, Status.CANCELLED, Status.FRAUD},
        Status.EXPIRED: {Status.ACTIVE, Status.CANCELLED},
        Status.TRANSFERRED_AWAY: {Status.ACTIVE},
        Status.CANCELLED: {Status.ACTIVE},
        Status.FRAUD: {Status.CANCELLED},
    }

    audit_secret_fields = ("epp_code",)

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="domains")
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="domains",
        help_text="The hosting account it points at, if any.",
    )
    name = models.CharField("domain name", max_length=253, help_text="ASCII (A-label) form.")
    tld = models.ForeignKey(Tld, on_delete=models.PROTECT, related_name="domains")
    order_type = models.CharField(max_length=10, choices=OrderType.choices)
    registrar = models.CharField(max_length=100, blank=True)
    period_years = models.PositiveSmallIntegerField(
        "registration period (years)",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    registration_date = models.DateField()
    expiry_date = models.DateField()
    next_due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, choices=settings.CURRENCIES)
    first_payment_amount = models.DecimalField(**MONEY)
    recurring_amount = models.DecimalField(**MONEY)
    nameservers = ArrayField(models.CharField(max_length=253), default=list)
    dns_management = models.BooleanField("DNS management", default=False)
    email_forwarding = models.BooleanField(default=False)
    id_protection = models.BooleanField("ID protection", default=False)
    registrar_lock = models.BooleanField(default=True)
    do_not_renew = models.BooleanField(default=False)
    epp_code = models.CharField("EPP code", max_length=500, blank=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    admin_notes = models.TextField(blank=True)

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One live registration per name, whatever the form or the admin does.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(status="active"),
                name="hosting_domain_one_active",
                violation_error_message="This domain is already active on another record.",
                violation_error_code="domain_active_elsewhere",
            ),
            models.CheckConstraint(
                condition=Q(period_years__gte=1, period_years__lte=10),
                name="hosting_domain_period_1_10",
            ),
            models.CheckConstraint(
                condition=Q(name=models.functions.Lower("name")), name="hosting_domain_lowercase"
            ),
            models.CheckConstraint(
                condition=Q(expiry_date__gt=models.F("registration_date")),
                name="hosting_domain_expiry_after_registration",
            ),
            *_price_checks("hosting_domain", "first_payment_amount", "recurring_amount"),
        ]
        indexes = [
            models.Index(fields=["client", "-id"], name="hosting_domain_client_idx"),
            # The same name pending or active elsewhere (entering it again needs a reason).
            models.Index(
                fields=["name"],
                condition=Q(status__in=["pending", "active"]),
                name="hosting_domain_live_name_idx",
            ),
            models.Index(fields=["status", "-id"], name="hosting_domain_status_idx"),
            models.Index(fields=["tld", "-id"], name="hosting_domain_tld_idx"),
            models.Index(fields=["expiry_date", "id"], name="hosting_domain_expiry_idx"),
            models.Index(fields=["registrar", "-id"], name="hosting_domain_registrar_idx"),
            models.Index(
                fields=["name"], name="hosting_domain_name_idx", opclasses=["text_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        from hosting.domains import to_unicode

        return to_unicode(self.name)

    def get_absolute_url(self) -> str:
        return reverse("hosting:domain-detail", args=[self.pk])

    @property
    def unicode_name(self) -> str:
        return str(self)


class Addon(TimeStampedModel):
    """An add-on on a hosting account: from the catalog, or custom with its own name."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"
        CANCELLED = "cancelled", "Cancelled"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.ACTIVE: "success", Status.PENDING: "info", Status.SUSPENDED: "warning"}

    STATUS_TRANSITIONS = {
        Status.PENDING: {Status.ACTIVE, Status.CANCELLED},
        Status.ACTIVE: {Status.SUSPENDED, Status.TERMINATED, Status.CANCELLED},
        Status.SUSPENDED: {Status.ACTIVE, Status.TERMINATED, Status.CANCELLED},
        Status.TERMINATED: set(),
        Status.CANCELLED: {Status.ACTIVE},
    }

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="addons")
    definition = models.ForeignKey(
        AddonDefinition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="addons",
        verbose_name="predefined add-on",
    )
    name = models.CharField("custom name", max_length=150, blank=True)
    setup_fee = models.DecimalField(**MONEY, default=ZERO)
    recurring_price = models.DecimalField(**MONEY)
    billing_cycle = models.CharField(max_length=15, choices=BillingCycle.choices)
    next_due_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    admin_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(definition__isnull=False) | ~Q(name=""),
                name="hosting_addon_named",
                violation_error_message="Choose a predefined add-on or give a custom name.",
            ),
            *_price_checks("hosting_addon", "setup_fee", "recurring_price"),
        ]
        indexes = [models.Index(fields=["service", "-id"], name="hosting_addon_service_idx")]

    def __str__(self) -> str:
        return self.name or f"Add-on #{self.pk} (catalog #{self.definition_id})"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("definition", "service")

    def audit_name(self, related: dict[str, Any]) -> str:
        from hosting.domains import to_unicode

        definition, service = related.get("definition"), related.get("service")
        name = self.name or (definition.name if definition else f"Add-on #{self.pk}")
        if service is None:
            return name
        where = to_unicode(service.domain) if service.domain else f"hosting account #{service.pk}"
        return f"{name} on {where}"

    @property
    def next_statuses(self) -> list[tuple[str, str]]:
        return [
            (s, Addon.Status(s).label)
            for s in sorted(Addon.STATUS_TRANSITIONS[Addon.Status(self.status)])
        ]

    @property
    def display_name(self) -> str:
        return self.name or (self.definition.name if self.definition else "")

    def get_absolute_url(self) -> str:
        return reverse("hosting:service-detail", args=[self.service_id]) + "?tab=addons"


# Status moves are refused by the database too (the admin, the shell, raw SQL), from the same
# maps the services check.
for _model in (Service, Domain, Addon):
    pgtrigger.register(
        transitions_guard(
            "status_transitions", _model.STATUS_TRANSITIONS, str(_model._meta.verbose_name)
        )
    )(_model)
