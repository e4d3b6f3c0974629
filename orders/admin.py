"""Django admin for orders: promotions are edited here (audited, with a reason); orders and
the history of service changes are looked at, and pending orders can be cancelled in bulk
through the service. Orders are placed in the app, where they are priced and previewed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin, ReadOnlyAdminMixin, apply_each, reason_from
from orders import services
from orders.models import Order, OrderLine, Promotion, ServiceChange


@admin.register(Promotion)
class PromotionAdmin(AuditedModelAdmin):
    list_display = ("code", "kind", "value", "currency", "recurring", "uses", "max_uses", "active")
    list_filter = ("active", "kind", "recurring")
    search_fields = ("code", "description")
    filter_horizontal = ("products",)
    readonly_fields = ("uses",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A promotion on orders stays (the orders point at it); switch it off instead.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.orders.exists())


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = (
        "position",
        "kind",
        "description",
        "billing_cycle",
        "quantity",
        "setup_fee",
        "first_period_amount",
        "discount",
        "recurring_amount",
        "service",
        "domain",
        "addon",
    )
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(AuditedModelAdmin):
    list_display = ("__str__", "client", "status", "created_at", "first_payment_total", "invoice")
    list_filter = ("status", "currency")
    search_fields = ("=id", "client__email", "client__last_name", "promotion_code")
    list_select_related = ("client", "invoice")
    show_full_result_count = False
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]
    readonly_fields = [f.name for f in Order._meta.fields]
    actions = ["cancel_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # placed in the app, where lines are priced and previewed

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead; an accepted order is undeletable in the database too

    @admin.action(
        description="Cancel the selected orders (not what they created)", permissions=["change"]
    )
    def cancel_selected(self, request: HttpRequest, queryset: Any) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda order: services.change_order_status(
                order=order,
                status=Order.Status.CANCELLED,
                actor=request.user,
                reason=reason_from(request),
            ),
        )


@admin.register(ServiceChange)
class ServiceChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "service",
        "kind",
        "status",
        "old_product",
        "new_product",
        "difference",
        "invoice",
    )
    list_filter = ("kind", "status", "takes_effect")
    list_select_related = ("service", "old_product", "new_product", "invoice")
    show_full_result_count = False
