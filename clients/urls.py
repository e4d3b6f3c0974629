from django.urls import path

from clients import views

app_name = "clients"

urlpatterns = [
    path("", views.ClientListView.as_view(), name="client-list"),
    path("new/", views.ClientCreateView.as_view(), name="client-create"),
    path("<int:pk>/", views.ClientDetailView.as_view(), name="client-detail"),
    path("<int:pk>/edit/", views.ClientUpdateView.as_view(), name="client-update"),
]
