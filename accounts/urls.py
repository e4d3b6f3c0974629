from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("enrol/", views.EnrolView.as_view(), name="enrol"),
    path("enrol/qr.svg", views.enrol_qr, name="enrol-qr"),
    path("verify/", views.VerifyView.as_view(), name="verify"),
    path("staff/", views.StaffSecurityView.as_view(), name="staff"),
    path("staff/<int:pk>/reset/", views.ResetSecondFactorView.as_view(), name="reset"),
    path("unlock/", views.UnlockView.as_view(), name="unlock"),
]
