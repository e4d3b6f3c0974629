from __future__ import annotations

import re

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.urls import reverse
from django_countries.fields import CountryField
from phonenumber_field.modelfields import PhoneNumberField

from core.models import TimeStampedModel

_TERM_RE = re.compile(r"[^\w@.+-]+", re.UNICODE)


class ClientQuerySet(models.QuerySet):
    def search(self, text: str) -> ClientQuerySet:
        """Match every word typed as a prefix of a name, company, email or phone word.

        Backed by a GIN index on a stored ``tsvector``; an email prefix and an exact id also
        match, each through its own index.
        """
        if not text.strip():
            return self
        terms = [t for t in _TERM_RE.split(text.strip()) if t]
        if not terms:
            return self.none()  # only punctuation: nothing can match
        tsquery = " & ".join("'" + t.replace("'", "''").replace("\\", "") + "':*" for t in terms)
        condition = Q(search_document=SearchQuery(tsquery, search_type="raw", config="simple"))
        condition |= Q(email__istartswith=text.strip())
        if text.strip().isdigit() and len(text.strip()) < 18:
            condition |= Q(pk=int(text.strip()))
        return self.filter(condition)


class Client(TimeStampedModel):
    """A customer of the hosting business, as staff entered them."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        CLOSED = "closed", "Closed"

    class Source(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        WALK_IN = "walk_in", "Walk-in"
        MIGRATION = "migration", "Migration"
        OTHER = "other", "Other"

    # Which status may follow which; enforced by the service, reason required for any change.
    STATUS_TRANSITIONS = {
        Status.ACTIVE: {Status.INACTIVE, Status.CLOSED},
        Status.INACTIVE: {Status.ACTIVE, Status.CLOSED},
        Status.CLOSED: {Status.ACTIVE},
    }

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    company_name = models.CharField("company", max_length=200, blank=True)
    email = models.EmailField("email address", max_length=254)
    phone = PhoneNumberField("phone number", blank=True, help_text="International format.")
    address1 = models.CharField("address line 1", max_length=200, blank=True)
    address2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("state / region", max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = CountryField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(
        max_length=10,
        choices=Source.choices,
        default=Source.PHONE,
        help_text="How this record reached us.",
    )
    search_document = models.GeneratedField(
        expression=SearchVector(
            "first_name", "last_name", "company_name", "email", "phone", config="simple"
        ),
        output_field=SearchVectorField(),
        db_persist=True,
        editable=False,
    )

    objects = ClientQuerySet.as_manager()

    class Meta:
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

    def validate_constraints(self, exclude: set[str] | None = None) -> None:
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
