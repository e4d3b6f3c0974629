"""Admin pieces shared by the business apps (no model of core's own is registered here)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyInlineMixin:
    """For an inline whose rows are only looked at (an invoice's lines, an order's lines).

    An inline's permission hooks also receive the parent object, ``has_add_permission``
    included; the model-admin mixin (``audit.admin.ReadOnlyAdminMixin``) takes the request
    alone there, so on an inline it broke every change page that drew it.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
