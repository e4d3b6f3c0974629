"""Django admin for billing: tax rules and series are edited here; money is only looked at.

Published invoices, transactions, allocations and credit entries are read-only (the database
refuses changes anyway). Drafts can be deleted, and unpaid invoices cancelled in bulk, through
the services with a required reason; invoices are written in the app, where totals are computed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import (
    REASON_FIELD,
    AuditedModelAdmin,
    ReadOnlyAdminMixin,
    apply_each,
    reason_from,
)
from billing import services
from billing.models import (
    Allocation,
    BillableItem,
    CreditEntry,
    Invoice,
    InvoiceCounter,
    InvoiceItem,
    InvoiceSeries,
    TaxRule,
    Transaction,
)


@admin.register(TaxRule)
class TaxRuleAdmin(AuditedModelAdmin):
    list_display = ("name", "level", "rate", "country", "region", "compound", "active")
    list_filter = ("level", "active", "compound")
    search_fields = ("name", "region")


@admin.register(InvoiceSeries)
class InvoiceSeriesAdmin(AuditedModelAdmin):
    list_display = ("code", "name", "number_format", "reset_yearly", "is_default")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # its numbers are on invoices for good


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("series", "year", "last_number")


class InvoiceItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceItem
    fields = ("position", "kind", "description", "quantity", "unit_price", "taxed", "amount")
    readonly_fields = fields
    extra = 0


class AllocationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Allocation
    fields = ("created_at", "transaction", "credit_entry", "amount")
    readonly_fields = fields
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(AuditedModelAdmin):
    list_display = ("__str__", "client", "status", "issue_date", "due_date", "total", "balance")
    list_filter = ("status", "currency", "series")
    search_fields = ("number", "client__email", "client__last_name", "client__company_name")
    autocomplete_fields = ("client",)
    list_select_related = ("client",)
    show_full_result_count = False
    date_hierarchy = "issue_date"
    inlines = [InvoiceItemInline, AllocationInline]
    readonly_fields = [f.name for f in Invoice._meta.fields] + ["balance"]
    actions = ["cancel_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invoices are written in the app, where the totals are computed

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Viewing only; the bulk "cancel" action goes through the service.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.is_draft)

    def delete_model(self, request: HttpRequest, obj: Invoice) -> None:
        services.delete_draft(invoice=obj, actor=request.user, reason=reason_from(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for invoice in queryset:
            services.delete_draft(invoice=invoice, actor=request.user, reason=reason_from(request))

    @admin.action(description="Cancel the selected unpaid invoices", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda invoice: services.change_invoice_status(
                invoice=invoice,
                status=Invoice.Status.CANCELLED,
                actor=request.user,
                reason=reason_from(request),
            ),
        )


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "date", "client", "kind", "gateway", "amount_in", "amount_out")
    list_filter = ("kind", "gateway", "currency", "backdated")
    search_fields = ("transaction_id", "client__email", "description")
    list_select_related = ("client",)
    show_full_result_count = False


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "client", "kind", "amount", "currency", "description")
    list_filter = ("kind", "currency")
    search_fields = ("client__email", "description")
    list_select_related = ("client",)
    show_full_result_count = False


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "invoice", "transaction", "credit_entry", "amount")
    list_select_related = ("invoice", "transaction", "credit_entry")
    show_full_result_count = False


@admin.register(BillableItem)
class BillableItemAdmin(AuditedModelAdmin):
    list_display = ("description", "client", "quantity", "unit_price", "taxed", "invoice_item")
    search_fields = ("description", "client__email")
    autocomplete_fields = ("client", "service")
    list_select_related = ("client", "invoice_item")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.invoice_item_id is None)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.invoice_item_id is None)

    def save_model(self, request: HttpRequest, obj: BillableItem, form: Any, change: bool) -> None:  # type: ignore[override]  # its own model
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.add_billable_item(
            client=obj.client,
            description=obj.description,
            quantity=obj.quantity,
            unit_price=obj.unit_price,
            taxed=obj.taxed,
            service=obj.service,
            actor=request.user,
            reason=form.cleaned_data.get(REASON_FIELD, ""),
        )
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def delete_model(self, request: HttpRequest, obj: BillableItem) -> None:
        services.remove_billable_item(item=obj, actor=request.user, reason=reason_from(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for item in queryset:
            services.remove_billable_item(
                item=item, actor=request.user, reason=reason_from(request)
            )
