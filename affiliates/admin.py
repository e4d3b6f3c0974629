"""Django admin for affiliates: looked at, and commissions reversible in bulk through the
service. Enrolling, referrals, commissions and payouts are entered in the app, where the ledger
rules apply."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from affiliates import services
from affiliates.models import Affiliate, Commission, Payout, Referral
from audit.admin import AuditedModelAdmin, ReadOnlyAdminMixin, apply_each, reason_from


@admin.register(Affiliate)
class AffiliateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("code", "client", "commission_type", "commission_value", "active")
    list_filter = ("active", "commission_type")
    search_fields = ("code", "client__email", "client__last_name")
    list_select_related = ("client",)


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "affiliate", "client", "service", "active")
    list_filter = ("active",)
    list_select_related = ("affiliate", "client", "service")
    show_full_result_count = False


@admin.register(Commission)
class CommissionAdmin(AuditedModelAdmin):
    list_display = ("created_at", "affiliate", "amount", "status", "clears_on", "invoice")
    list_filter = ("status",)
    list_select_related = ("affiliate", "invoice")
    readonly_fields = [f.name for f in Commission._meta.fields]
    show_full_result_count = False
    actions = ["reverse_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Reverse the selected commissions", permissions=["change"])
    def reverse_selected(self, request: HttpRequest, queryset: Any) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda commission: services.reverse_commission(
                commission=commission, reason=reason_from(request), actor=request.user
            ),
        )


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "affiliate", "amount", "method", "reference")
    list_filter = ("method",)
    list_select_related = ("affiliate",)
    show_full_result_count = False
