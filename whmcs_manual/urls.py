from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core.metrics import metrics_view

admin.site.site_header = "WHMCS Manual — administration"
admin.site.site_title = "WHMCS Manual admin"

urlpatterns = [
    path("", include("core.urls")),
    path("clients/", include("clients.urls")),
    path("hosting/", include("hosting.urls")),
    path("billing/", include("billing.urls")),
    path("orders/", include("orders.urls")),
    path("support/", include("support.urls")),
    path("affiliates/", include("affiliates.urls")),
    path("kb/", include("kb.urls")),
    path("audit/", include("audit.urls")),
    path("review/", include("review.urls")),
    path("accounts/", include("accounts.urls")),
    path("approvals/", include("approvals.urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Prometheus (allowed addresses and staff only); /healthz and /readyz: core.health.
    path("metrics", metrics_view, name="metrics"),
]
