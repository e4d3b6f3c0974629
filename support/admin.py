"""Django admin for support: departments (and which roles see them) are managed here, audited
with a reason; tickets can be re-assigned, re-prioritised or closed in bulk through the
services; replies, attachments and communications are looked at (they are entered in the app).
Tickets of a restricted department, and their replies and files, are shown by the app's own rule
(``visible_to``) here too: every staff user has the admin.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import (
    AuditedModelAdmin,
    AuditedTabularInline,
    ReadOnlyAdminMixin,
    apply_each,
    reason_from,
)
from support import services
from support.models import (
    Communication,
    Department,
    DepartmentRole,
    Ticket,
    TicketAttachment,
    TicketReply,
)


class VisibleTicketsMixin:
    """Only the tickets (or rows of tickets) the user sees in the app; superusers see all."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).visible_to(request.user)  # type: ignore[misc]  # a mixin


class DepartmentRoleInline(AuditedTabularInline):
    model = DepartmentRole
    extra = 0
    verbose_name = "role that sees this department"
    verbose_name_plural = "visible to roles (none: everyone who may see tickets)"


@admin.register(Department)
class DepartmentAdmin(AuditedModelAdmin):
    list_display = ("name", "email", "active", "display_order")
    list_editable = ("display_order",)
    list_filter = ("active",)
    search_fields = ("name", "email")
    inlines = [DepartmentRoleInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tickets point at their department: switch it off instead.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.tickets.exists())


@admin.register(Ticket)
class TicketAdmin(VisibleTicketsMixin, AuditedModelAdmin):
    list_display = (
        "number",
        "subject",
        "department",
        "status",
        "priority",
        "assignee",
        "client",
        "last_activity_at",
    )
    list_filter = ("status", "priority", "department")
    search_fields = ("=number", "subject", "email", "client__email")
    list_select_related = ("department", "assignee", "client")
    show_full_result_count = False
    date_hierarchy = "opened_at"
    readonly_fields = [f.name for f in Ticket._meta.fields]
    actions = ["close_selected", "set_high_priority"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened in the app, where attachments and emails are handled

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # undeletable in the database too

    @admin.action(description="Close the selected tickets", permissions=["change"])
    def close_selected(self, request: HttpRequest, queryset: Any) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda ticket: services.change_ticket_status(
                ticket=ticket,
                status=Ticket.Status.CLOSED,
                actor=request.user,
                reason=reason_from(request),
            ),
        )

    @admin.action(description="Set the selected tickets to high priority", permissions=["change"])
    def set_high_priority(self, request: HttpRequest, queryset: Any) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda ticket: services.update_ticket(
                ticket=ticket,
                data={"priority": Ticket.Priority.HIGH},
                actor=request.user,
                reason=reason_from(request),
            ),
        )


@admin.register(TicketReply)
class TicketReplyAdmin(VisibleTicketsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "ticket", "kind", "author", "emailed_to")
    list_filter = ("kind",)
    list_select_related = ("ticket", "author")
    show_full_result_count = False


@admin.register(TicketAttachment)
class TicketAttachmentAdmin(VisibleTicketsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "name", "ticket", "size", "content_type", "uploaded_by")
    list_select_related = ("ticket", "uploaded_by")
    exclude = ("file",)  # downloaded through the app's permission-checked view
    show_full_result_count = False


@admin.register(Communication)
class CommunicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "client",
        "channel",
        "direction",
        "outcome",
        "follow_up_on",
        "follow_up_owner",
        "logged_by",
    )
    list_filter = ("channel", "direction", "outcome")
    list_select_related = ("client", "follow_up_owner", "logged_by")
    raw_id_fields = ("client",)
    show_full_result_count = False

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        # The entry is the client's; a ticket it links to may be in a department the user
        # does not see.
        exclude = list(super().get_exclude(request, obj) or ())
        hidden = Ticket.objects.exclude(pk__in=Ticket.objects.visible_to(request.user))
        if obj is not None and hidden.filter(pk=obj.ticket_id).exists():
            exclude.append("ticket")
        return exclude
