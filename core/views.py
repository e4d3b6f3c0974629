from __future__ import annotations

from typing import Any

from django.conf import settings
from django.views.generic import TemplateView

from core.extension_points import DashboardPanel, visible
from core.permissions import StaffPermissionRequiredMixin as StaffPermissionRequiredMixin


class DashboardView(TemplateView):
    """The panels the apps register (``DashboardPanel``) that the user may see, in order."""

    template_name = "core/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request, user = self.request, self.request.user
        context["panels"] = [
            {"key": p.key, "template": p.template, **p.context(request=request, user=user)}
            for p in visible(DashboardPanel, user)
        ]
        context["figures_seconds"] = settings.DASHBOARD_FIGURES_SECONDS
        return context
