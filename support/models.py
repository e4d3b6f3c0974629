"""Support: departments, tickets opened on a client's behalf, replies, attachments, and the
communication log (calls, emails, chats, meetings and letters with a client)."""

from __future__ import annotations

import uuid
from typing import Any

import pgtrigger
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import LazyObject

from core.db import transitions_guard
from core.models import TimeStampedModel


class PrivateStorage(LazyObject):
    """Attachments live outside the web root and have no URL: only a permission-checked view
    streams them. ``STORAGES["private"]``: a local folder or a shared bucket (core/storage.py)."""

    def _setup(self) -> None:
        self._wrapped = storages.create_storage(settings.STORAGES["private"])


private_storage = PrivateStorage()


def private_files() -> Storage:
    """The attachments' storage, given to ``FileField`` as a callable: migrations then name
    this function instead of freezing the folder of the machine that generated them."""
    return private_storage  # type: ignore[return-value]  # a LazyObject standing in for one


def attachment_path(instance: TicketAttachment, filename: str) -> str:
    # Never the uploaded name on disk: a random one, under the month it arrived.
    return f"tickets/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


# Departments ---------------------------------------------------------------------------------


class DepartmentQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> DepartmentQuerySet:
        """Departments open to everyone, and those restricted to one of the user's roles."""
        if user.is_superuser or user.has_perm("support.see_all_departments"):
            return self
        return self.filter(Q(roles__isnull=True) | Q(roles__in=user.groups.all())).distinct()


class Department(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(
        "department email", help_text="Replies to the client are sent from this address."
    )
    description = models.CharField(max_length=300, blank=True)
    roles = models.ManyToManyField(
        "auth.Group",
        through="DepartmentRole",
        blank=True,
        related_name="support_departments",
        verbose_name="visible to roles",
        help_text="Only staff in these roles see the department's tickets. "
        "None: every staff member who may see tickets.",
    )
    active = models.BooleanField(default=True, help_text="Inactive: no new tickets.")
    display_order = models.PositiveSmallIntegerField(default=0)

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        ordering = ["display_order", "name"]
        permissions = [("see_all_departments", "Can see every department's tickets")]

    def __str__(self) -> str:
        return self.name


class DepartmentRole(models.Model):
    """A role allowed to see a department (an explicit row so that granting it is audited)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE)
    role = models.ForeignKey("auth.Group", on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["department", "role"], name="support_dept_role_once")
        ]

    def __str__(self) -> str:
        return f"department #{self.department_id} visible to role #{self.role_id}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("department", "role")

    def audit_name(self, related: dict[str, Any]) -> str:
        department, role = related.get("department"), related.get("role")
        return (
            f"{department.name if department else f'department #{self.department_id}'} "
            f"visible to role {role.name if role else f'#{self.role_id}'}"
        )


# Tickets -------------------------------------------------------------------------------------


# Every status may move to any other except that a closed ticket only reopens (to Open); the
# trigger refuses anything else, the admin included.
TICKET_STATUSES = ("open", "answered", "customer_reply", "on_hold", "in_progress", "closed")
TICKET_TRANSITIONS = {
    status: ({"open"} if status == "closed" else set(TICKET_STATUSES) - {status})
    for status in TICKET_STATUSES
}
NUMBER_PATTERN = r"^[A-Z]{3}-[0-9]{6}$"


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> TicketQuerySet:
        """The one rule of who sees a ticket (its department's roles): every page, tab, form,
        timeline and admin list that shows tickets, or rows of them, goes through it."""
        if user.is_superuser or user.has_perm("support.see_all_departments"):
            return self
        ids = list(Department.objects.visible_to(user).values_list("pk", flat=True))
        return self.filter(department_id__in=ids)

    def awaiting(self) -> TicketQuerySet:
        return self.exclude(status=Ticket.Status.CLOSED)


class Ticket(TimeStampedModel):
    """A support ticket staff opened for a client, one of its contacts, or anyone by email."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        CUSTOMER_REPLY = "customer_reply", "Customer-Reply"
        ON_HOLD = "on_hold", "On Hold"
        IN_PROGRESS = "in_progress", "In Progress"
        CLOSED = "closed", "Closed"

    # Colour of the status badge (``{% status_badge record %}``); unlisted: secondary.
    STATUS_BADGES = {
        Status.OPEN: "success",
        Status.CUSTOMER_REPLY: "warning",
        Status.ANSWERED: "secondary",
        Status.ON_HOLD: "info",
        Status.IN_PROGRESS: "primary",
        Status.CLOSED: "dark",
    }

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    # {% status_badge ticket "priority" %}: only a high priority stands out.
    PRIORITY_BADGES = {
        Priority.LOW: "light border",
        Priority.MEDIUM: "light border",
        Priority.HIGH: "danger",
    }

    STATUS_TRANSITIONS = TICKET_TRANSITIONS

    number = models.CharField(
        "ticket number", max_length=10, unique=True, editable=False, help_text="Shown to clients."
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tickets")
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    contact = models.ForeignKey(
        "clients.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    name = models.CharField("requester name", max_length=200)
    email = models.EmailField("requester email", max_length=254)
    cc = models.CharField(
        "CC", max_length=1000, blank=True, help_text="Comma-separated addresses copied on emails."
    )
    subject = models.CharField(max_length=200)
    message = models.TextField()
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.OPEN)
    service = models.ForeignKey(
        "hosting.Service",
        verbose_name="related service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    domain = models.ForeignKey(
        "hosting.Domain",
        verbose_name="related domain",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    suppress_email = models.BooleanField(
        "do not email the client", default=False, help_text="No email for this ticket at all."
    )
    opened_at = models.DateTimeField(
        "opened", default=timezone.now, help_text="When the client asked (may be in the past)."
    )
    backdated = models.BooleanField("back-dated", default=False, editable=False)
    backdate_reason = models.CharField(max_length=300, blank=True, editable=False)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opened_tickets"
    )
    last_activity_at = models.DateTimeField(editable=False)
    last_reply_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_replier = models.CharField(max_length=200, blank=True, editable=False)
    reply_count = models.PositiveIntegerField(default=0, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TICKET_STATUSES), name="support_ticket_status"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=["low", "medium", "high"]), name="support_ticket_priority"
            ),
            models.CheckConstraint(
                condition=Q(number__regex=NUMBER_PATTERN), name="support_ticket_number_format"
            ),
            models.CheckConstraint(
                condition=~Q(subject="") & ~Q(message="") & ~Q(email="") & ~Q(name=""),
                name="support_ticket_required_text",
            ),
            models.CheckConstraint(
                condition=Q(contact__isnull=True) | Q(client__isnull=False),
                name="support_ticket_contact_needs_client",
                violation_error_message="A contact belongs to a client: choose the client too.",
            ),
            models.CheckConstraint(
                condition=Q(backdated=False) | ~Q(backdate_reason=""),
                name="support_ticket_backdated_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(status="closed"),
                name="support_ticket_closed_at_only_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["-last_activity_at", "-id"], name="support_ticket_activity_idx"),
            models.Index(
                fields=["-last_activity_at", "-id"],
                name="support_ticket_awaiting_idx",
                condition=~Q(status="closed"),
            ),
            models.Index(
                fields=["status", "-last_activity_at", "-id"], name="support_ticket_status_idx"
            ),
            # The queue's counts per status (closed tickets, the bulk, are not counted).
            models.Index(
                fields=["status", "id"],
                name="support_ticket_count_idx",
                condition=~Q(status="closed"),
            ),
            models.Index(
                fields=["department", "-last_activity_at", "-id"], name="support_ticket_dept_idx"
            ),
            models.Index(
                fields=["assignee", "-last_activity_at", "-id"],
                name="support_ticket_assignee_idx",
            ),
            models.Index(
                fields=["client", "-last_activity_at", "-id"], name="support_ticket_client_idx"
            ),
            models.Index(fields=["client", "-opened_at"], name="support_ticket_client_open_idx"),
            models.Index(fields=["priority", "-last_activity_at"], name="support_ticket_prio_idx"),
            models.Index(fields=["service"], name="support_ticket_service_idx"),
            models.Index(fields=["domain"], name="support_ticket_domain_idx"),
        ]
        triggers = [
            transitions_guard("status_transitions", TICKET_TRANSITIONS, "Ticket"),
            # A contact, service or domain on a ticket belongs to the ticket's client, whichever
            # way the row is written.
            pgtrigger.Trigger(
                name="links_same_client",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update,
                func="""
                    IF NEW.contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM clients_contact
                       WHERE id = NEW.contact_id AND client_id = NEW.client_id) THEN
                        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                            'Ticket contact belongs to another client';
                    END IF;
                    IF NEW.service_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hosting_service
                       WHERE id = NEW.service_id AND client_id = NEW.client_id) THEN
                        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                            'Ticket service belongs to another client';
                    END IF;
                    IF NEW.domain_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hosting_domain
                       WHERE id = NEW.domain_id AND client_id = NEW.client_id) THEN
                        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                            'Ticket domain belongs to another client';
                    END IF;
                    RETURN NEW;
                """,
            ),
            pgtrigger.Protect(name="undeletable", operation=pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("support:ticket-detail", args=[self.number])

    @property
    def recipients(self) -> list[str]:
        extra = [a.strip() for a in self.cc.split(",") if a.strip()]
        return [self.email, *[a for a in extra if a.lower() != self.email.lower()]]

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class OfTicketQuerySet(models.QuerySet):
    """Rows of a ticket (replies, attachments): seen by whoever sees the ticket."""

    def visible_to(self, user: Any) -> models.QuerySet:
        return self.filter(ticket__in=Ticket.objects.visible_to(user))


class TicketReply(models.Model):
    """One message on a ticket: a staff reply, the client's reply as staff recorded it, or an
    internal note (never emailed). Replies are a record of what was said: never edited."""

    class Kind(models.TextChoices):
        STAFF = "staff", "Staff reply"
        CLIENT = "client", "Client's reply"
        NOTE = "note", "Internal note"

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="replies")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ticket_replies"
    )
    message = models.TextField()
    emailed_to = models.CharField(max_length=1000, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = OfTicketQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "ticket replies"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["staff", "client", "note"]), name="support_reply_kind"
            ),
            models.CheckConstraint(condition=~Q(message=""), name="support_reply_message"),
            models.CheckConstraint(
                condition=~Q(kind="note") | Q(emailed_to=""), name="support_note_never_emailed"
            ),
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="support_reply_ticket_idx"),
            models.Index(fields=["author", "-created_at"], name="support_reply_author_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on ticket #{self.ticket_id}"

    def get_absolute_url(self) -> str:
        return reverse("support:ticket-by-id", args=[self.ticket_id]) + f"#reply-{self.pk}"

    # The audit trail's display name (``audit.feed``): the rows named here are loaded for a
    # whole page at once and handed to ``audit_name`` by field name (None when gone).
    audit_name_related = ("ticket",)

    def audit_name(self, related: dict[str, Any]) -> str:
        ticket = related.get("ticket")
        return f"{self.get_kind_display()} on {ticket if ticket else f'ticket #{self.ticket_id}'}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments")
    reply = models.ForeignKey(
        TicketReply,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
    )
    file = models.FileField(storage=private_files, upload_to=attachment_path, max_length=200)
    name = models.CharField("file name", max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OfTicketQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "id"], name="support_attach_ticket_idx")]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("support:attachment-download", args=[self.pk])


# Communication log ---------------------------------------------------------------------------


class CommunicationQuerySet(models.QuerySet):
    def follow_ups_open(self) -> CommunicationQuerySet:
        return self.filter(follow_up_on__isnull=False, follow_up_done_at__isnull=True)


class Communication(TimeStampedModel):
    """A call, email, chat, meeting or letter with a client, as staff recorded it."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone call"
        EMAIL = "email", "Email"
        CHAT = "chat", "Chat"
        MEETING = "meeting", "Meeting"
        LETTER = "letter", "Letter"

    class Direction(models.TextChoices):
        INBOUND = "in", "Inbound (the client contacted us)"
        OUTBOUND = "out", "Outbound (we contacted the client)"

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        INFORMATION = "information", "Information given"
        FOLLOW_UP = "follow_up", "Follow-up needed"
        NO_ANSWER = "no_answer", "No answer"
        VOICEMAIL = "voicemail", "Left a message"
        ESCALATED = "escalated", "Escalated"
        SALE = "sale", "Sale / order"
        COMPLAINT = "complaint", "Complaint"
        OTHER = "other", "Other"

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="communications"
    )
    contact = models.ForeignKey(
        "clients.Contact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="communications",
        help_text="Leave empty when it was the account holder.",
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.PHONE)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    occurred_at = models.DateTimeField("date and time", default=timezone.now)
    duration_minutes = models.PositiveIntegerField(
        "duration (minutes)", null=True, blank=True, validators=[MaxValueValidator(24 * 60)]
    )
    summary = models.TextField(help_text="What was said or asked.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    follow_up_on = models.DateField("follow-up date", null=True, blank=True)
    follow_up_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="follow-up owner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
    )
    follow_up_done_at = models.DateTimeField(null=True, blank=True, editable=False)
    follow_up_done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    follow_up_result = models.CharField(max_length=500, blank=True, editable=False)
    service = models.ForeignKey(
        "hosting.Service", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    domain = models.ForeignKey(
        "hosting.Domain", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="communications"
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = CommunicationQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["phone", "email", "chat", "meeting", "letter"]),
                name="support_comm_channel",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["in", "out"]), name="support_comm_dir"
            ),
            models.CheckConstraint(condition=~Q(summary=""), name="support_comm_summary"),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True) | Q(duration_minutes__lte=24 * 60),
                name="support_comm_duration",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True, follow_up_owner__isnull=True)
                | Q(follow_up_on__isnull=False, follow_up_owner__isnull=False),
                name="support_comm_follow_up_complete",
                violation_error_message="A follow-up needs both a date and an owner.",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_done_at__isnull=True) | Q(follow_up_on__isnull=False),
                name="support_comm_done_needs_follow_up",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-occurred_at", "-id"], name="support_comm_client_idx"),
            models.Index(
                fields=["follow_up_owner", "follow_up_on", "id"],
                name="support_comm_follow_up_idx",
                condition=Q(follow_up_on__isnull=False, follow_up_done_at__isnull=True),
            ),
            models.Index(fields=["ticket"], name="support_comm_ticket_idx"),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="links_same_client",
                when=pgtrigger.Before,
                operation=pgtrigger.Insert | pgtrigger.Update,
                func="""
                    IF NEW.contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM clients_contact
                       WHERE id = NEW.contact_id AND client_id = NEW.client_id)
                    OR NEW.service_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hosting_service
                       WHERE id = NEW.service_id AND client_id = NEW.client_id)
                    OR NEW.domain_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hosting_domain
                       WHERE id = NEW.domain_id AND client_id = NEW.client_id)
                    OR NEW.invoice_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM billing_invoice
                       WHERE id = NEW.invoice_id AND client_id = NEW.client_id)
                    OR NEW.ticket_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM support_ticket
                       WHERE id = NEW.ticket_id AND client_id = NEW.client_id) THEN
                        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE =
                            'A communication links only to records of its own client';
                    END IF;
                    RETURN NEW;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.get_direction_display().split(' ')[0]})"

    def get_absolute_url(self) -> str:
        return reverse("support:communication-detail", args=[self.pk])

    @property
    def follow_up_open(self) -> bool:
        return self.follow_up_on is not None and self.follow_up_done_at is None

    @property
    def follow_up_overdue(self) -> bool:
        due = self.follow_up_on
        return self.follow_up_open and due is not None and due < timezone.localdate()
