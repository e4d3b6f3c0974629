from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order-list"),
    path("new/", views.OrderCreateView.as_view(), name="order-create"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("<int:pk>/accept/", views.OrderAcceptView.as_view(), name="order-accept"),
    path("<int:pk>/status/<str:status>/", views.OrderStatusView.as_view(), name="order-status"),
    path("services/<int:pk>/change/", views.ServiceChangeView.as_view(), name="service-change"),
    path(
        "services/<int:pk>/cancel/",
        views.CancellationRequestView.as_view(),
        name="service-cancel",
    ),
    path("changes/<int:pk>/withdraw/", views.WithdrawChangeView.as_view(), name="change-withdraw"),
]
