from __future__ import annotations

from django.contrib.auth.mixins import PermissionRequiredMixin


class StaffPermissionRequiredMixin(PermissionRequiredMixin):
    """Every view names its permission; a logged-in user without it gets the 403 page."""

    raise_exception = True
