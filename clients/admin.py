"""The Django admin for bulk fixes. Every save, delete and action goes through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from approvals import thresholds
from audit.admin import (
    REASON_FIELD,
    AuditedModelAdmin,
    AuditReasonFormMixin,
    ReadOnlyAdminMixin,
    apply_each,
    bulk_form_response,
    reason_from,
)
from clients import services
from clients.forms import status_change_errors
from clients.models import Client, ClientGroup, Contact, CustomField, EmailLog, Note
from core.rights import has_right

WAITS = (
    "Deleting a client needs a second person's approval: use Delete on the client's page, "
    "which sends the delete as a request (Approvals)."
)


def _delete_waits() -> bool:
    return thresholds.check("clients.delete_client", label="Client deletes") is not None


class ClientAdminForm(AuditReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Client
        fields = list(services.EDITABLE_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent's clean() may return None: the data is then as it was
            cleaned = self.cleaned_data
        status_change_errors(self)
        return cleaned


class ChangeGroupForm(forms.Form):
    group = forms.ModelChoiceField(
        queryset=ClientGroup.objects.order_by("name"), required=False, empty_label="No group"
    )


@admin.register(Client)
class ClientAdmin(AuditedModelAdmin):
    validate_through_services = True
    form = ClientAdminForm
    list_display = (
        "id",
        "first_name",
        "last_name",
        "company_name",
        "email",
        "country",
        "group",
        "status",
        "backdated",
    )
    list_filter = ("status", "source", "group", "backdated", "currency")
    search_fields = ("email", "last_name", "company_name", "tax_id", "=id", "legacy_id")
    list_select_related = ("group",)
    list_per_page = 25
    show_full_result_count = False
    autocomplete_fields = ("group",)
    readonly_fields = ("backdated",)
    actions = ["mark_inactive", "mark_active", "mark_closed", "change_group"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and not has_right(request.user, "clients.change_client_currency"):
            fields += ("currency",)
        return fields

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        data = {n: form.cleaned_data[n] for n in services.EDITABLE_FIELDS if n in form.cleaned_data}
        reason = form.cleaned_data.get(REASON_FIELD, "")
        if change:
            saved = services.update_client(client=obj, data=data, actor=request.user, reason=reason)
        else:
            saved = services.create_client(data=data, actor=request.user, reason=reason)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Client) -> None:
        services.delete_client(client=obj, actor=request.user, reason=reason_from(request))

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if _delete_waits():
            actions.pop("delete_selected", None)
        return actions

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        if _delete_waits():
            raise PermissionDenied(WAITS)
        for customer in queryset:
            services.delete_client(client=customer, actor=request.user, reason=reason_from(request))

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        customer = self.get_object(request, object_id)
        if customer is not None and _delete_waits():
            # Four eyes: the client's page sends the delete as a request for approval.
            self.message_user(request, WAITS, messages.ERROR)
            return redirect("admin:clients_client_change", customer.pk)
        if customer is not None and request.method == "POST":
            dependents = services.dependent_records(customer)
            if dependents:
                self.message_user(
                    request,
                    f"{customer} cannot be deleted: it has {', '.join(dependents)}. Close it.",
                    messages.ERROR,
                )
                return redirect("admin:clients_client_change", customer.pk)
        return super().delete_view(request, object_id, extra_context)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Client], status: str) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda customer: services.update_client(
                client=customer,
                data={"status": status},
                actor=request.user,
                reason=reason_from(request),
            ),
        )

    @admin.action(description="Mark selected clients inactive", permissions=["change"])
    def mark_inactive(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        self._set_status(request, queryset, Client.Status.INACTIVE)

    @admin.action(description="Mark selected clients active", permissions=["change"])
    def mark_active(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        self._set_status(request, queryset, Client.Status.ACTIVE)

    @admin.action(description="Close selected clients", permissions=["change"])
    def mark_closed(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        self._set_status(request, queryset, Client.Status.CLOSED)

    @admin.action(description="Change the group of selected clients", permissions=["change"])
    def change_group(self, request: HttpRequest, queryset: QuerySet[Client]) -> HttpResponse | None:
        if "apply" in request.POST:
            form = ChangeGroupForm(request.POST)
            if form.is_valid():
                apply_each(
                    self,
                    request,
                    queryset,
                    lambda customer: services.change_client_group(
                        client=customer,
                        group=form.cleaned_data["group"],
                        actor=request.user,
                        reason=reason_from(request),
                    ),
                )
                return None
        else:
            form = ChangeGroupForm()
        return bulk_form_response(
            self,
            request,
            queryset,
            form,
            title="Change the group of the selected clients",
            action="change_group",
        )


class ContactAdminForm(AuditReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["client", *services.CONTACT_FIELDS]


@admin.register(Contact)
class ContactAdmin(AuditedModelAdmin):
    validate_through_services = True
    form = ContactAdminForm
    list_display = ("__str__", "client", "email", "role")
    list_filter = ("role",)
    search_fields = ("email", "last_name", "client__email", "client__last_name")
    list_select_related = ("client",)
    autocomplete_fields = ("client",)
    show_full_result_count = False

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        data = {n: form.cleaned_data[n] for n in services.CONTACT_FIELDS}
        reason = form.cleaned_data.get(REASON_FIELD, "")
        if change:
            services.update_contact(contact=obj, data=data, actor=request.user, reason=reason)
        else:
            saved = services.add_contact(
                client=form.cleaned_data["client"], data=data, actor=request.user, reason=reason
            )
            obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        services.remove_contact(contact=obj, actor=request.user, reason=reason_from(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        for contact in queryset:
            services.remove_contact(
                contact=contact, actor=request.user, reason=reason_from(request)
            )


class NoteAdminForm(AuditReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Note
        fields = ["client", "body", "pinned"]


@admin.register(Note)
class NoteAdmin(AuditedModelAdmin):
    validate_through_services = True
    form = NoteAdminForm
    list_display = ("__str__", "client", "author", "pinned", "created_at")
    list_filter = ("pinned",)
    search_fields = ("body", "client__email", "client__last_name")
    list_select_related = ("client", "author")
    autocomplete_fields = ("client",)
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # notes are kept; edit them instead (their versions stay in the trail)

    def save_model(self, request: HttpRequest, obj: Note, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        cleaned = form.cleaned_data
        if change:
            services.edit_note(
                note=obj, body=cleaned["body"], actor=request.user, reason=cleaned[REASON_FIELD]
            )
            services.set_note_pinned(note=obj, pinned=cleaned["pinned"], actor=request.user)
        else:
            saved = services.add_note(
                client=cleaned["client"],
                body=cleaned["body"],
                pinned=cleaned["pinned"],
                actor=request.user,
            )
            obj.pk = saved.pk


@admin.register(CustomField)
class CustomFieldAdmin(AuditedModelAdmin):
    validate_through_services = True
    list_display = ("name", "field_type", "required", "admin_only", "display_order", "active")
    list_editable = ("display_order", "active")
    list_filter = ("field_type", "admin_only", "active")
    search_fields = ("name",)

    def save_model(self, request: HttpRequest, obj: CustomField, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        services.save_custom_field(
            field=obj, actor=request.user, reason=form.cleaned_data.get(REASON_FIELD, "")
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # values refer to it: deactivate instead


@admin.register(ClientGroup)
class ClientGroupAdmin(AuditedModelAdmin):
    list_display = ("name", "description", "colour")
    search_fields = ("name",)


@admin.register(EmailLog)
class EmailLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "client",
        "kind",
        "subject",
        "to",
        "status",
        "attempts",
        "next_attempt_at",
        "triggered_by",
    )
    list_filter = ("kind", "status")
    search_fields = ("subject", "to", "client__email")
    list_select_related = ("client", "triggered_by")
    autocomplete_fields = ("client",)
    show_full_result_count = False
