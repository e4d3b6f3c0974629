from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("", views.QueueView.as_view(), name="queue"),
    path("<int:pk>/decide/", views.DecideView.as_view(), name="entry-decide"),
    path("scan/", views.ScanNowView.as_view(), name="scan"),
    path("rules/", views.RuleListView.as_view(), name="rules"),
    path("rules/<int:pk>/", views.RuleEditView.as_view(), name="rule-edit"),
    path("digest/", views.DigestSettingsView.as_view(), name="digest-settings"),
]
