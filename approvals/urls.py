from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.RequestListView.as_view(), name="request-list"),
    path("<int:pk>/", views.RequestDetailView.as_view(), name="request-detail"),
    path("<int:pk>/approve/", views.ApproveView.as_view(), name="request-approve"),
    path("<int:pk>/reject/", views.RejectView.as_view(), name="request-reject"),
    path("<int:pk>/withdraw/", views.WithdrawView.as_view(), name="request-withdraw"),
]
