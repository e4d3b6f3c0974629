"""The Django admin, audited: every change form, delete and bulk action carries a reason.

``AuditedModelAdmin`` is the base for every ModelAdmin of the project. The reason goes into the
request's audit context before anything is written, so the events of the save, its inlines and
its related rows all carry it. Deletes (inline ones included) and bulk actions refuse to run
without one. A bulk action is all or nothing: one transaction, and if a service refuses any
selected row nothing is applied, the refused rows are listed with their reasons and the same
rows are ticked again on the changelist.
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

import audit.context
from audit.models import ReasonCode, StaffSession
from core.forms import errors_to_form
from core.roles import record_offered

REASON_FIELD = "audit_reason"
# The rows that were ticked, on the changelist a refused bulk action sends the user back to.
SELECTED_PARAM = "_selected"
REASON_HELP = "Recorded in the audit trail with this change."


class AuditReasonFormMixin(forms.Form):
    audit_reason = forms.CharField(
        label="Reason for this change", required=False, max_length=500, help_text=REASON_HELP
    )


class AuditActionForm(ActionForm):
    audit_reason = forms.CharField(
        label="Reason (required)",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"size": 40, "placeholder": "Why this bulk change?"}),
    )


def with_reason(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    if issubclass(form_class, AuditReasonFormMixin):
        return form_class
    return type(f"Audited{form_class.__name__}", (AuditReasonFormMixin, form_class), {})


def bulk_form_response(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    form: forms.Form,
    *,
    title: str,
    action: str,
) -> TemplateResponse:
    """The intermediate page of a bulk action that needs input: its form plus the reason."""
    return TemplateResponse(
        request,
        "admin/audit/bulk_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "queryset": queryset,
            "form": form,
            "reason": request.POST.get(REASON_FIELD, ""),
            "opts": model_admin.opts,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


class _DryRun(Exception):
    """Raised to roll back a validation attempt."""


def errors_onto_form(form: forms.BaseForm, exc: ValidationError) -> None:
    errors_to_form(form, exc)


def reason_from(request: HttpRequest) -> str:
    return request.POST.get(REASON_FIELD, "")


def apply_each(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, change: Any
) -> None:
    """Bulk action body: ``change(row)`` through a service for every selected row, all or
    nothing.

    Every row is tried, so that all refusals (a transition the map does not allow...) are
    listed at once. If any row is refused, the ``ValidationError`` listing them rolls back the
    transaction ``AuditedModelAdmin.response_action`` runs the action in: the rows that passed
    are not applied either.
    """
    done, refused = 0, []
    for obj in queryset:
        try:
            # A savepoint: the refused row's own writes go, the next rows can still be tried.
            with transaction.atomic():
                change(obj)
        except ValidationError as exc:
            refused.append(
                ValidationError(
                    "%(row)s: %(why)s",
                    code="bulk_row_refused",
                    params={"row": str(obj), "why": " ".join(exc.messages)},
                )
            )
        else:
            done += 1
    if refused:
        raise ValidationError(refused)
    model_admin.message_user(request, f"{done} record(s) updated.", messages.SUCCESS)


DELETE_REASON = "Give a reason: deletions are recorded in the audit trail."


class AuditedInlineFormSet(BaseInlineFormSet):
    """Rows ticked "Delete" in an inline are deletes like any other: they need the page's
    reason (the parent form's ``audit_reason``, posted with the inlines)."""

    def clean(self) -> None:
        super().clean()
        deleting = [
            form
            for form in self.forms
            if form.instance.pk is not None
            and getattr(form, "cleaned_data", {}).get(DELETION_FIELD_NAME)
        ]
        if deleting:
            audit.context.require_reason(self.data.get(REASON_FIELD, ""), DELETE_REASON)


class AuditedTabularInline(admin.TabularInline):
    """The base of every inline that can change rows (read-only ones use ReadOnlyAdminMixin)."""

    formset = AuditedInlineFormSet


class AuditedModelAdmin(admin.ModelAdmin):
    action_form = AuditActionForm
    # Admins whose save_model calls a service: the service's rules (price overrides, reasons,
    # catalog checks) are checked while the form validates, so a refusal comes back on the form
    # with the input kept instead of a server error.
    validate_through_services = False
    delete_confirmation_template = "admin/audit/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/audit/delete_selected_confirmation.html"

    # Forms -----------------------------------------------------------------------------

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = kwargs.pop("form", None)
        if base is None:
            add_form = getattr(self, "add_form", None)
            base = add_form if obj is None and add_form is not None else self.form
        kwargs["form"] = with_reason(base)
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if not self.validate_through_services:
            return form_class
        model_admin = self

        class ServiceCheckedForm(form_class):  # type: ignore[valid-type,misc]  # made at run time
            def _post_clean(self) -> None:
                super()._post_clean()
                if not self.errors:
                    model_admin.check_with_services(request, self)

        ServiceCheckedForm.__name__ = form_class.__name__
        return ServiceCheckedForm

    def check_with_services(self, request: HttpRequest, form: Any) -> None:
        """Run ``save_model`` in a savepoint that is always rolled back; keep its refusals.

        The same service code decides, so the form can never accept what the service would
        refuse. Nothing of the attempt survives: rows, audit events and on_commit callbacks
        of the savepoint are discarded with it.
        """
        instance = copy.copy(form.instance)
        try:
            with transaction.atomic():
                self.save_model(request, instance, form, instance.pk is not None)
                raise _DryRun
        except _DryRun:
            pass
        except ValidationError as exc:
            errors_onto_form(form, exc)

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        names = [n for _, opts in fieldsets for n in opts.get("fields", ())]
        if REASON_FIELD not in names:
            fieldsets.append(("Audit", {"fields": (REASON_FIELD,)}))
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        reason = form.cleaned_data.get(REASON_FIELD, "")
        verb = "change" if change else "add"
        with audit.context.context(action=f"admin.{verb}_{obj._meta.model_name}", reason=reason):
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The inlines' rows (a price added, changed or deleted) carry the page's reason too.
        reason = form.cleaned_data.get(REASON_FIELD, "")
        verb = "change" if change else "add"
        model_name = self.opts.model_name
        with audit.context.context(action=f"admin.{verb}_{model_name}", reason=reason):
            super().save_related(request, form, formsets, change)

    # Deletes and bulk actions ------------------------------------------------------------

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            reason = request.POST.get(REASON_FIELD, "").strip()
            if not reason:
                self.message_user(request, DELETE_REASON, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            with audit.context.context(
                action=f"admin.delete_{self.opts.model_name}", reason=reason
            ):
                return super().delete_view(request, object_id, extra_context)
        return super().delete_view(request, object_id, extra_context)

    # Django 5.2's signature; the stubs add a parameter of a later version.
    def response_action(self, request: HttpRequest, queryset: QuerySet) -> Any:  # type: ignore[override]  # 5.2
        reason = request.POST.get(REASON_FIELD, "").strip()
        action = request.POST.get("action", "")
        if not reason:
            if action == "delete_selected" and "post" not in request.POST:
                # The confirmation page asks for the reason.
                return super().response_action(request, queryset)
            self.message_user(
                request,
                "Give a reason: bulk actions are recorded in the audit trail.",
                messages.ERROR,
            )
            return self._back_to_selection(request)
        try:
            # All or nothing, in one transaction: a refusal on the tenth row must not leave
            # nine changed (``apply_each`` raises once every row was tried).
            with (
                transaction.atomic(),
                audit.context.context(action=f"admin.{action}", reason=reason),
            ):
                return super().response_action(request, queryset)
        except ValidationError as exc:
            self.message_user(
                request,
                "Nothing was changed: every selected row is as it was. Refused:",
                messages.ERROR,
            )
            for line in exc.messages:
                self.message_user(request, line, messages.ERROR)
            return self._back_to_selection(request)

    # Keeping the selection after a refusal ----------------------------------------------

    def _back_to_selection(self, request: HttpRequest) -> HttpResponse:
        """Back to the same changelist (filters, page) with the same rows ticked."""
        query = request.GET.copy()
        query.setlist(SELECTED_PARAM, request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME))
        return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if SELECTED_PARAM in request.GET:
            # Not a filter: the changelist would refuse an unknown parameter.
            query = request.GET.copy()
            request.admin_selected = set(query.pop(SELECTED_PARAM))  # type: ignore[attr-defined]  # ours
            request.GET = query  # type: ignore[assignment]  # a copy without our parameter
        return super().changelist_view(request, extra_context)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        selected = getattr(request, "admin_selected", None)
        if selected:
            changelist.result_list = list(changelist.result_list)
            for obj in changelist.result_list:
                obj.admin_ticked = str(obj.pk) in selected
        return changelist

    def action_checkbox(self, obj: Model) -> SafeString:
        if not getattr(obj, "admin_ticked", False):
            return super().action_checkbox(obj)
        attrs = {
            "class": "action-select",
            "aria-label": format_html("Select this object for an action - {}", str(obj)),
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: True)
        return checkbox.render(admin.helpers.ACTION_CHECKBOX_NAME, str(obj.pk))


class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    list_filter = ("is_active", "is_superuser", "groups")


class GroupRightsForm(AuditReasonFormMixin, forms.ModelForm):
    """A role's rights change here as on the Roles page: with a reason."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        if self.instance.pk and "permissions" in self.changed_data:
            try:
                audit.context.require_reason(
                    cleaned.get(REASON_FIELD, ""), "Say why this role's rights change."
                )
            except ValidationError as exc:
                self.add_error(REASON_FIELD, exc)
        return cleaned


class AuditedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    form = GroupRightsForm

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        group = form.instance
        before = set(group.permissions.values_list("pk", flat=True))
        super().save_related(request, form, formsets, change)
        after = set(group.permissions.values_list("pk", flat=True))
        # An Admin's choice, final for the next migrate (core.roles.sync_roles).
        record_offered(group=group, permission_ids=before ^ after)


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AuditedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)


class ReadOnlyAdminMixin:
    """For logs: visible in the admin, never added, changed or deleted there. Inlines use it
    too (their permission hooks also receive the parent object)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # ``obj``: inlines pass the parent object here too.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StaffSession)
class StaffSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "username", "ip", "user_agent")
    list_filter = ("kind",)
    search_fields = ("username", "ip")
    date_hierarchy = "created_at"


@admin.register(ReasonCode)
class ReasonCodeAdmin(AuditedModelAdmin):
    """The reason-code lists (``audit.reasons``), Admins' to keep. A code is switched off, never
    deleted: past entries keep it, and the report keeps its label."""

    list_display = ("action", "label", "code", "position", "needs_text", "active")
    list_filter = ("action", "active")
    search_fields = ("label", "code", "action")
    ordering = ("action", "position", "code")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Once in use a code names past entries: its key stays, its words may change.
        return ("action", "code") if obj is not None else ()
