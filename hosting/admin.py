"""Django admin for the catalog (Admins) and bulk fixes on accounts and domains."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from audit.admin import (
    REASON_FIELD,
    AuditedModelAdmin,
    AuditedTabularInline,
    AuditReasonFormMixin,
    ReadOnlyAdminMixin,
    apply_each,
    bulk_form_response,
    reason_from,
)
from core.forms import DATE_INPUT
from hosting import services
from hosting.models import (
    Addon,
    AddonDefinition,
    AddonPrice,
    Domain,
    Product,
    ProductGroup,
    ProductPrice,
    SecretReveal,
    Server,
    Service,
    Tld,
    TldPrice,
)


class ProductPriceInline(AuditedTabularInline):
    model = ProductPrice
    extra = 0


@admin.register(ProductGroup)
class ProductGroupAdmin(AuditedModelAdmin):
    list_display = ("name", "display_order", "hidden")
    search_fields = ("name",)


@admin.register(Product)
class ProductAdmin(AuditedModelAdmin):
    list_display = ("name", "group", "type", "hidden", "retired")
    list_filter = ("group", "type", "hidden", "retired")
    search_fields = ("name",)
    inlines = [ProductPriceInline]


@admin.register(Server)
class ServerAdmin(AuditedModelAdmin):
    list_display = ("name", "hostname", "type", "capacity", "active")
    list_filter = ("type", "active")
    search_fields = ("name", "hostname")


class TldPriceInline(AuditedTabularInline):
    model = TldPrice
    extra = 0


@admin.register(Tld)
class TldAdmin(AuditedModelAdmin):
    list_display = ("__str__", "active")
    search_fields = ("name",)
    inlines = [TldPriceInline]


class AddonPriceInline(AuditedTabularInline):
    model = AddonPrice
    extra = 0


@admin.register(AddonDefinition)
class AddonDefinitionAdmin(AuditedModelAdmin):
    list_display = ("name", "active")
    filter_horizontal = ("products",)
    inlines = [AddonPriceInline]


class _DerivedFieldsOptional:
    """Fields the service fills in when left empty (catalog prices, derived dates)."""

    derived_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.derived_fields:
            if name in self.fields:  # type: ignore[attr-defined]  # a mixin of model forms
                self.fields[name].required = False  # type: ignore[attr-defined]  # a form mixin


class ServiceAdminForm(_DerivedFieldsOptional, AuditReasonFormMixin, forms.ModelForm):
    derived_fields = ("first_payment_amount", "recurring_amount")

    class Meta:
        model = Service
        fields = ["client", *services.SERVICE_FIELDS]


class DueDateForm(forms.Form):
    next_due_date = forms.DateField(widget=DATE_INPUT)


class MoveServerForm(forms.Form):
    server = forms.ModelChoiceField(queryset=Server.objects.filter(active=True))


@admin.register(Service)
class ServiceAdmin(AuditedModelAdmin):
    validate_through_services = True
    form = ServiceAdminForm
    list_display = ("id", "client", "product", "domain", "server", "status", "next_due_date")
    list_filter = ("status", "server", "product", "billing_cycle")
    search_fields = ("domain", "username", "=id", "client__email")
    list_select_related = ("client", "product", "server")
    autocomplete_fields = ("client",)
    date_hierarchy = "next_due_date"
    show_full_result_count = False
    actions = ["suspend", "unsuspend", "set_next_due_date", "move_server"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts are terminated or cancelled, never deleted

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        data = {n: form.cleaned_data[n] for n in services.SERVICE_FIELDS if n in form.cleaned_data}
        reason = form.cleaned_data.get(REASON_FIELD, "")
        if change:
            services.update_service(service=obj, data=data, actor=request.user, reason=reason)
        else:
            saved = services.create_service(
                client=form.cleaned_data["client"], data=data, actor=request.user, reason=reason
            )
            obj.pk = saved.pk

    def _status(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda s: services.change_service_status(
                service=s, new_status=status, actor=request.user, reason=reason_from(request)
            ),
        )

    @admin.action(description="Suspend selected accounts", permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._status(request, queryset, Service.Status.SUSPENDED)

    @admin.action(description="Unsuspend selected accounts", permissions=["change"])
    def unsuspend(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._status(request, queryset, Service.Status.ACTIVE)

    @admin.action(description="Set the next due date", permissions=["change"])
    def set_next_due_date(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = DueDateForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            apply_each(
                self,
                request,
                queryset,
                lambda s: services.set_service_next_due_date(
                    service=s,
                    next_due_date=form.cleaned_data["next_due_date"],
                    actor=request.user,
                    reason=reason_from(request),
                ),
            )
            return None
        return bulk_form_response(
            self, request, queryset, form, title="Set the next due date", action="set_next_due_date"
        )

    @admin.action(description="Move to another server", permissions=["change"])
    def move_server(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = MoveServerForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            apply_each(
                self,
                request,
                queryset,
                lambda s: services.move_service(
                    service=s,
                    server=form.cleaned_data["server"],
                    actor=request.user,
                    reason=reason_from(request),
                ),
            )
            return None
        return bulk_form_response(
            self, request, queryset, form, title="Move to another server", action="move_server"
        )


class DomainAdminForm(_DerivedFieldsOptional, AuditReasonFormMixin, forms.ModelForm):
    derived_fields = ("expiry_date", "first_payment_amount", "recurring_amount")

    class Meta:
        model = Domain
        fields = ["client", *services.DOMAIN_FIELDS]


@admin.register(Domain)
class DomainAdmin(AuditedModelAdmin):
    validate_through_services = True
    form = DomainAdminForm
    list_display = ("name", "client", "status", "registrar", "expiry_date")
    list_filter = ("status", "tld", "order_type", "registrar")
    search_fields = ("name", "client__email")
    list_select_related = ("client",)
    autocomplete_fields = ("client", "service")
    show_full_result_count = False
    actions = ["mark_expired", "mark_cancelled"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        data = {n: form.cleaned_data[n] for n in services.DOMAIN_FIELDS if n in form.cleaned_data}
        reason = form.cleaned_data.get(REASON_FIELD, "")
        if change:
            services.update_domain(domain=obj, data=data, actor=request.user, reason=reason)
        else:
            saved = services.create_domain(
                client=form.cleaned_data["client"], data=data, actor=request.user, reason=reason
            )
            obj.pk = saved.pk

    @admin.action(description="Mark selected domains expired", permissions=["change"])
    def mark_expired(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda d: services.change_domain_status(
                domain=d,
                new_status=Domain.Status.EXPIRED,
                actor=request.user,
                reason=reason_from(request),
            ),
        )

    @admin.action(description="Mark selected domains cancelled", permissions=["change"])
    def mark_cancelled(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda d: services.change_domain_status(
                domain=d,
                new_status=Domain.Status.CANCELLED,
                actor=request.user,
                reason=reason_from(request),
            ),
        )


@admin.register(Addon)
class AddonAdmin(AuditedModelAdmin):
    """Looked at here. Add-ons are added and moved through their statuses on the hosting
    account's page, by the services (the transition map, reasons); a direct save here would
    skip both, so nobody changes them in the admin, superusers included."""

    list_display = ("__str__", "service", "recurring_price", "billing_cycle", "status")
    list_filter = ("status", "billing_cycle")
    list_select_related = ("service",)
    raw_id_fields = ("service",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added from the hosting account page, where the product is known

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecretReveal)
class SecretRevealAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "field", "service", "domain", "revealed_by", "reason")
    list_filter = ("field",)
    list_select_related = ("service", "domain", "revealed_by")
