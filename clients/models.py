from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Collection
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower, Upper
from django.urls import reverse
from django.utils import timezone
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from core.db import has_extension
from core.inputs import record_id
from core.models import TimeStampedModel

TRIGRAM_MIN = 3
_TERM_RE = re.compile(r"[^\w@.+-]+", re.UNICODE)


class ClientQuerySet(models.QuerySet):
    def search(self, text: str) -> ClientQuerySet:
        """Clients matching every word typed, in name, company, email, phone, VAT or old ID.

        Where the server has ``pg_trgm`` (production, CI's server), each word of three or more
        characters matches anywhere ("kernel" finds linus@kernel.example, "7946" a phone
        number) through a trigram GIN index. Otherwise (the embedded development server ships
        without contrib extensions) and for shorter words, words match as prefixes through a
        GIN index on a ``tsvector``. A client number matches exactly.
        """
        if not text.strip():
            return self
        terms = [t for t in _TERM_RE.split(text.strip()) if t]
        if not terms:
            return self.none()  # only punctuation: nothing can match
        if all(len(t) >= TRIGRAM_MIN for t in terms) and has_extension("pg_trgm", self.db):
            condition = Q()
            for term in terms:
                condition &= Q(search_text__contains=term.lower())
        else:
            tsquery = " & ".join(
                "'" + t.replace("'", "''").replace("\\", "") + "':*" for t in terms
            )
            condition = Q(search_document=SearchQuery(tsquery, search_type="raw", config="simple"))
        condition |= Q(email__istartswith=text.strip())
        if (number := record_id(text)) is not None:
            condition |= Q(pk=number)
        return self.filter(condition)

    def possible_duplicates(
        self,
        *,
        email: str = "",
        phone: str = "",
        company_name: str = "",
        tax_id: str = "",
        exclude_pk: int | None = None,
    ) -> ClientQuerySet:
        """Clients sharing an email, phone, company or VAT number with what is being typed."""
        condition = Q()
        if email.strip():
            condition |= Q(email__iexact=email.strip())
        if phone.strip():
            condition |= Q(phone=phone.strip())
        if len(company_name.strip()) >= 3:
            condition |= Q(company_name__iexact=company_name.strip())
        if tax_id.strip():
            condition |= Q(tax_id__iexact=tax_id.strip())
        if not condition:
            return self.none()
        queryset = self.filter(condition)
        if exclude_pk is not None:
            queryset = queryset.exclude(pk=exclude_pk)
        return queryset


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    # available_timezones() walks and opens the whole tz database: once per process is enough.
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class ClientGroup(TimeStampedModel):
    """A set of clients treated alike (resellers, VIPs, staff accounts...)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    colour = models.CharField(
        max_length=7,
        default="#6c757d",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #1a2b3c.")],
        help_text="Shown as a badge next to the client's name.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Client(TimeStampedModel):
    """A customer of the hosting business, as staff entered them."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        CLOSED = "closed", "Closed"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.ACTIVE: "success", Status.INACTIVE: "warning"}

    class Source(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        WALK_IN = "walk_in", "Walk-in"
        MIGRATION = "migration", "Migration"
        OTHER = "other", "Other"

    class PaymentMethod(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CARD = "card", "Credit / debit card"
        PAYPAL = "paypal", "PayPal"
        DIRECT_DEBIT = "direct_debit", "Direct debit"
        CHEQUE = "cheque", "Cheque"
        CASH = "cash", "Cash"

    # Which status may follow which; enforced by the service, reason required for any change.
    STATUS_TRANSITIONS = {
        Status.ACTIVE: {Status.INACTIVE, Status.CLOSED},
        Status.INACTIVE: {Status.ACTIVE, Status.CLOSED},
        Status.CLOSED: {Status.ACTIVE},
    }

    # Identity
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    company_name = models.CharField("company", max_length=200, blank=True)
    email = models.EmailField("email address", max_length=254)
    billing_email = models.EmailField(
        "extra billing email", max_length=254, blank=True, help_text="Also receives invoices."
    )
    phone = PhoneNumberField("phone number", blank=True, help_text="International format.")
    language = models.CharField(max_length=10, choices=settings.CLIENT_LANGUAGES, default="en")
    timezone = models.CharField("time zone", max_length=64, choices=timezone_choices, default="UTC")
    # Address
    address1 = models.CharField("address line 1", max_length=200, blank=True)
    address2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("state / region", max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = CountryField()
    # Billing
    group = models.ForeignKey(
        ClientGroup,
        verbose_name="client group",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clients",
    )
    currency = models.CharField(
        max_length=3,
        choices=settings.CURRENCIES,
        default=settings.DEFAULT_CURRENCY,
        help_text="Fixed once the client has an invoice.",
    )
    tax_id = models.CharField("tax ID / VAT number", max_length=50, blank=True)
    tax_exempt = models.BooleanField(default=False)
    late_fee_exempt = models.BooleanField("exempt from late fees", default=False)
    overdue_notice_exempt = models.BooleanField("exempt from overdue notices", default=False)
    default_payment_method = models.CharField(
        max_length=20, choices=PaymentMethod.choices, blank=True
    )
    # The client's own login (hashed with Django's hashers; never shown, audited as "changed").
    password = models.CharField(max_length=128, blank=True, editable=False)
    # Status and provenance
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(
        max_length=10,
        choices=Source.choices,
        default=Source.PHONE,
        help_text="How this record reached us.",
    )
    legacy_id = models.CharField(
        "ID in previous system", max_length=64, blank=True, help_text="For migrated clients."
    )
    signed_up_on = models.DateField(
        "original sign-up date",
        null=True,
        blank=True,
        help_text="For migrated clients; a date in the past marks the client back-dated.",
    )
    backdated = models.BooleanField("back-dated", default=False, editable=False)
    search_document = models.GeneratedField(
        expression=SearchVector(
            "first_name",
            "last_name",
            "company_name",
            "email",
            "phone",
            "tax_id",
            "legacy_id",
            config="simple",
        ),
        output_field=SearchVectorField(),
        db_persist=True,
        editable=False,
    )
    # Everything a search looks in, lower-cased, for the trigram index (where pg_trgm exists).
    search_text = models.GeneratedField(
        expression=Lower(
            Concat(
                "first_name",
                Value(" "),
                "last_name",
                Value(" "),
                "company_name",
                Value(" "),
                "email",
                Value(" "),
                "phone",
                Value(" "),
                "tax_id",
                Value(" "),
                "legacy_id",
                output_field=models.TextField(),
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
        editable=False,
    )

    objects = ClientQuerySet.as_manager()

    class Meta:
        permissions = [
            ("change_client_currency", "Can change a client's currency"),
        ]
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="clients_client_email_ci_unique",
                violation_error_message="Another client already uses this email address.",
                violation_error_code="duplicate_email",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "inactive", "closed"]),
                name="clients_client_status_valid",
            ),
            models.CheckConstraint(condition=~Q(email=""), name="clients_client_email_present"),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="clients_name_idx"),
            models.Index(fields=["status", "-id"], name="clients_status_idx"),
            models.Index(fields=["country", "-id"], name="clients_country_idx"),
            models.Index(fields=["group", "-id"], name="clients_group_idx"),
            models.Index(fields=["source", "-id"], name="clients_source_idx"),
            models.Index(
                OpClass(Upper("company_name"), name="text_pattern_ops"),
                name="clients_company_prefix_idx",
            ),
            models.Index(Upper("tax_id"), name="clients_tax_id_idx", condition=~Q(tax_id="")),
            models.Index(fields=["phone"], name="clients_phone_idx", condition=~Q(phone="")),
            models.Index(
                OpClass(Upper("email"), name="text_pattern_ops"), name="clients_email_prefix_idx"
            ),
            GinIndex(fields=["search_document"], name="clients_search_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company_name})" if self.company_name else name

    def get_absolute_url(self) -> str:
        return reverse("clients:client-detail", args=[self.pk])

    def validate_constraints(self, exclude: Collection[str] | None = None) -> None:
        # The case-insensitive unique email is an expression constraint, which Django reports
        # as a form-wide error; staff should see it next to the email field.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict({})
            general = errors.pop(NON_FIELD_ERRORS, [])
            errors.setdefault("email", []).extend(
                e for e in general if getattr(e, "code", "") == "duplicate_email"
            )
            rest = [e for e in general if getattr(e, "code", "") != "duplicate_email"]
            if rest:
                errors[NON_FIELD_ERRORS] = rest
            raise ValidationError({k: v for k, v in errors.items() if v}) from exc

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Contact(TimeStampedModel):
    """A person at the client (billing contact, technician...) and which emails they get."""

    class Role(models.TextChoices):
        BILLING = "billing", "Billing"
        TECHNICAL = "technical", "Technical"
        OWNER = "owner", "Owner"
        SUPPORT = "support", "Support"
        OTHER = "other", "Other"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="contacts")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField("email address", max_length=254)
    phone = PhoneNumberField("phone number", blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OTHER)
    receives_general = models.BooleanField("general emails", default=False)
    receives_invoices = models.BooleanField("invoice emails", default=False)
    receives_support = models.BooleanField("support emails", default=False)
    receives_products = models.BooleanField("product emails", default=False)
    receives_domains = models.BooleanField("domain emails", default=False)

    EMAIL_FLAGS = (
        "receives_general",
        "receives_invoices",
        "receives_support",
        "receives_products",
        "receives_domains",
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                "client",
                Lower("email"),
                name="clients_contact_email_per_client",
                violation_error_message="This client already has a contact with this email.",
                violation_error_code="duplicate_contact_email",
            )
        ]
        indexes = [
            models.Index(fields=["client", "last_name"], name="clients_contact_client_idx"),
            models.Index(Upper("email"), name="clients_contact_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_absolute_url(self) -> str:
        return reverse("clients:client-detail", args=[self.client_id]) + "?tab=contacts"

    @property
    def email_kinds(self) -> list[str]:
        return [
            str(self._meta.get_field(flag).verbose_name)  # type: ignore[union-attr]  # own flags
            for flag in self.EMAIL_FLAGS
            if getattr(self, flag)
        ]


class CustomField(TimeStampedModel):
    """A client field defined by an Admin, shown on the client form and profile."""

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        TEXTAREA = "textarea", "Text area"
        DROPDOWN = "dropdown", "Dropdown"
        CHECKBOX = "checkbox", "Checkbox"
        LINK = "link", "Link"
        DATE = "date", "Date"

    name = models.CharField(max_length=100, unique=True)
    field_type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    description = models.CharField(max_length=300, blank=True, help_text="Shown under the field.")
    options = models.TextField(blank=True, help_text="Dropdown only: one option per line.")
    required = models.BooleanField(default=False)
    regex = models.CharField(
        "validation pattern",
        max_length=300,
        blank=True,
        help_text="A regular expression the whole value must match (text fields).",
    )
    admin_only = models.BooleanField(
        default=False, help_text="Only Admins see and edit this field."
    )
    display_order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display_order", "name"]
        permissions = [("manage_admin_only_fields", "Can see and edit admin-only client fields")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(field_type="dropdown") | ~Q(options=""),
                name="clients_customfield_dropdown_has_options",
                violation_error_message="A dropdown needs at least one option.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def option_list(self) -> list[str]:
        return [line.strip() for line in self.options.splitlines() if line.strip()]

    def clean(self) -> None:
        if self.regex:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValidationError(
                    {"regex": ValidationError(f"Not a valid pattern: {exc}", code="bad_regex")}
                ) from exc
        if self.field_type == self.FieldType.DROPDOWN and not self.option_list:
            raise ValidationError(
                {"options": ValidationError("List at least one option.", code="no_options")}
            )


class CustomFieldValue(TimeStampedModel):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="custom_values")
    field = models.ForeignKey(CustomField, on_delete=models.PROTECT, related_name="values")
    value = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "field"], name="clients_cfv_one_per_field")
        ]

    def __str__(self) -> str:
        return f"{self.field_id}: {self.value[:50]}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("field",)

    def audit_name(self, related: dict[str, Any]) -> str:
        custom_field = related.get("field")
        return (
            f"{custom_field.name if custom_field else f'field #{self.field_id}'}: {self.value[:50]}"
        )

    def get_absolute_url(self) -> str:
        return reverse("clients:client-detail", args=[self.client_id]) + "?tab=custom"


class NoteQuerySet(models.QuerySet):
    def pinned_first(self) -> NoteQuerySet:
        return self.order_by("-pinned", "-created_at", "-id")


class Note(TimeStampedModel):
    """A staff note on a client. Earlier versions of an edited note live in the audit trail."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_notes"
    )
    body = models.TextField()
    pinned = models.BooleanField(
        default=False, help_text="Pinned notes show at the top of the client's profile."
    )
    # Optionally about one of the client's records (a hosting account, a domain, later an
    # invoice or a ticket); which kinds are offered is registered by those apps.
    about_type = models.ForeignKey(
        "contenttypes.ContentType",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    about_id = models.PositiveBigIntegerField(null=True, blank=True)
    about = GenericForeignKey("about_type", "about_id")

    objects = NoteQuerySet.as_manager()

    class Meta:
        ordering = ["-pinned", "-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["client", "-pinned", "-created_at"], name="clients_note_client_idx"
            ),
            models.Index(fields=["client", "-created_at", "-id"], name="clients_note_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="clients_note_body"),
            models.CheckConstraint(
                condition=Q(about_type__isnull=True, about_id__isnull=True)
                | Q(about_type__isnull=False, about_id__isnull=False),
                name="clients_note_about_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.body[:60]

    def get_absolute_url(self) -> str:
        return reverse("clients:client-detail", args=[self.client_id]) + "?tab=notes"


class EmailLogQuerySet(models.QuerySet):
    def due(self, now: dt.datetime | None = None) -> EmailLogQuerySet:
        """Queued emails whose next attempt has come (``send_queued_emails`` sends these)."""
        return self.filter(
            status=EmailLog.Status.QUEUED, next_attempt_at__lte=now or timezone.now()
        )


class EmailLog(models.Model):
    """Every email the app sends, to clients and to anyone else: the log is also the outbox.

    A service writes the row inside its transaction (what to send: the text, and references to
    attachments rendered only at delivery); ``clients.outbox.deliver_email`` sends it after the
    commit and records the outcome here. A transient failure leaves it queued with a later
    ``next_attempt_at`` for ``manage.py send_queued_emails``.
    """

    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome"
        SET_PASSWORD = "set_password", "Set-password link"
        ONE_OFF = "one_off", "One-off"
        INVOICE = "invoice", "Invoice"
        RECEIPT = "receipt", "Payment receipt"
        ORDER = "order", "Order confirmation"
        TICKET = "ticket", "Support ticket"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {Status.SENT: "success", Status.FAILED: "danger"}

    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="emails",
        help_text="Empty when the recipient is not a client (a ticket's requester or CC).",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    to = models.CharField(max_length=1000, help_text="Comma-separated addresses.")
    from_email = models.CharField(
        max_length=254, blank=True, help_text="Empty: the default sender."
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    body_source = models.CharField(
        max_length=60,
        blank=True,
        help_text="Registered renderer of the body sent, when the logged body masks a secret.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="The last attempt's error.")
    attachments = models.CharField(max_length=500, blank=True, help_text="File names.")
    attachment_sources = models.JSONField(
        default=list,
        blank=True,
        help_text="What to render at delivery: [source, object id, file name] per file.",
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="client_emails",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = EmailLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="clients_email_client_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="clients_email_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"

    def get_absolute_url(self) -> str:
        if self.client_id is None:
            return reverse("admin:clients_emaillog_change", args=[self.pk])
        return reverse("clients:client-detail", args=[self.client_id]) + "?tab=emails"
