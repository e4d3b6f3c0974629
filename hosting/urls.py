from django.urls import path

from hosting import views

app_name = "hosting"

urlpatterns = [
    path("services/", views.ServiceListView.as_view(), name="service-list"),
    path("services/<int:pk>/", views.ServiceDetailView.as_view(), name="service-detail"),
    path("services/<int:pk>/edit/", views.ServiceUpdateView.as_view(), name="service-update"),
    path(
        "services/<int:pk>/status/<str:status>/",
        views.ServiceStatusView.as_view(),
        name="service-status",
    ),
    path(
        "services/<int:pk>/password/", views.ServicePasswordView.as_view(), name="service-password"
    ),
    path(
        "services/<int:service_pk>/addons/new/",
        views.AddonCreateView.as_view(),
        name="addon-create",
    ),
    path("addons/<int:pk>/status/", views.AddonStatusView.as_view(), name="addon-status"),
    path(
        "clients/<int:client_pk>/services/new/",
        views.ServiceCreateView.as_view(),
        name="service-create",
    ),
    path(
        "clients/<int:client_pk>/domains/new/",
        views.DomainCreateView.as_view(),
        name="domain-create",
    ),
    path("domains/", views.DomainListView.as_view(), name="domain-list"),
    path("domains/<int:pk>/", views.DomainDetailView.as_view(), name="domain-detail"),
    path("domains/<int:pk>/edit/", views.DomainUpdateView.as_view(), name="domain-update"),
    path(
        "domains/<int:pk>/status/<str:status>/",
        views.DomainStatusView.as_view(),
        name="domain-status",
    ),
    path("domains/<int:pk>/epp/", views.DomainEppView.as_view(), name="domain-epp"),
    path("domains/<int:pk>/epp/set/", views.DomainEppSetView.as_view(), name="domain-epp-set"),
]
