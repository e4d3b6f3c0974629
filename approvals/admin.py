"""Approval requests in the Django admin: to look at only. Every decision goes through the
requests' own pages (approvals.services), never through a change form."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from approvals.models import ApprovalRequest


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "summary", "status", "maker", "decided_by", "created_at", "expires_at")
    list_filter = ("status", "right")
    list_select_related = ("maker", "decided_by")
    search_fields = ("summary",)
    show_full_result_count = False
    exclude = ("secrets", "payload")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
