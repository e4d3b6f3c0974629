from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Count, Q
from django.views.generic import TemplateView

from audit.feed import Feed, FeedFilters
from clients.models import Client
from clients.widgets import ClientPickerWidget
from core.dashboard import cached_figures, panels_for
from core.permissions import StaffPermissionRequiredMixin as StaffPermissionRequiredMixin


class ClientFinderForm(forms.Form):
    client = forms.IntegerField(
        label="Find a client",
        required=False,
        widget=ClientPickerWidget(attrs={"id": "find-client"}, navigate=True),
    )


class DashboardView(TemplateView):
    template_name = "core/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if user.has_perm("clients.view_client"):
            context["client_counts"] = cached_figures(
                "clients",
                lambda: Client.objects.aggregate(
                    total=Count("pk"),
                    **{
                        status.value: Count("pk", filter=Q(status=status.value))
                        for status in Client.Status
                    },
                ),
            )
            context["recent_clients"] = Client.objects.order_by("-id")[:5]
            context["finder"] = ClientFinderForm()
        context["panels"] = panels_for(self.request)
        context["figures_seconds"] = settings.DASHBOARD_FIGURES_SECONDS
        if user.has_perm("audit.review_audit"):
            context["recent_events"] = Feed(FeedFilters()).page(per_page=8).rows
        return context
