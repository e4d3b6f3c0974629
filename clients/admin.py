from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin, AuditReasonFormMixin
from clients.forms import status_change_errors
from clients.models import Client
from clients.services import EDITABLE_FIELDS, create_client, delete_client, update_client


class ClientAdminForm(AuditReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Client
        fields = list(EDITABLE_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        status_change_errors(self)
        return cleaned


@admin.register(Client)
class ClientAdmin(AuditedModelAdmin):
    form = ClientAdminForm
    list_display = ("id", "first_name", "last_name", "company_name", "email", "country", "status")
    list_filter = ("status", "source")
    search_fields = ("email", "last_name", "company_name")
    list_per_page = 25
    actions = ["mark_inactive", "mark_active"]

    def save_model(self, request: HttpRequest, obj: Client, form: Any, change: bool) -> None:
        data = {
            name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data
        }
        reason = form.cleaned_data.get("audit_reason", "")
        if change:
            saved = update_client(client=obj, data=data, actor=request.user, reason=reason)
        else:
            saved = create_client(data=data, actor=request.user, reason=reason)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Client) -> None:
        delete_client(client=obj, actor=request.user, reason=request.POST.get("audit_reason", ""))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        reason = request.POST.get("audit_reason", "")
        for customer in queryset:
            delete_client(client=customer, actor=request.user, reason=reason)

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Client], status: str) -> None:
        reason = request.POST.get("audit_reason", "")
        done, refused = 0, []
        for customer in queryset:
            try:
                update_client(
                    client=customer, data={"status": status}, actor=request.user, reason=reason
                )
                done += 1
            except ValidationError as exc:
                refused.append(f"{customer}: {' '.join(exc.messages)}")
        self.message_user(request, f"{done} client(s) updated.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Mark selected clients inactive", permissions=["change"])
    def mark_inactive(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        self._set_status(request, queryset, Client.Status.INACTIVE)

    @admin.action(description="Mark selected clients active", permissions=["change"])
    def mark_active(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        self._set_status(request, queryset, Client.Status.ACTIVE)
