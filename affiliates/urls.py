from django.urls import path

from affiliates import views

app_name = "affiliates"

urlpatterns = [
    path("", views.AffiliateListView.as_view(), name="affiliate-list"),
    path("enrol/<int:client_pk>/", views.AffiliateEnrolView.as_view(), name="affiliate-enrol"),
    path("<int:pk>/", views.AffiliateDetailView.as_view(), name="affiliate-detail"),
    path("<int:pk>/edit/", views.AffiliateUpdateView.as_view(), name="affiliate-update"),
    path("<int:pk>/referrals/new/", views.ReferralCreateView.as_view(), name="referral-create"),
    path(
        "<int:pk>/commissions/new/",
        views.CommissionCreateView.as_view(),
        name="commission-create",
    ),
    path("<int:pk>/payouts/new/", views.PayoutCreateView.as_view(), name="payout-create"),
    path(
        "commissions/<int:pk>/reverse/",
        views.CommissionReverseView.as_view(),
        name="commission-reverse",
    ),
]
