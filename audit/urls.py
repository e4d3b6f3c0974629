from django.urls import path

from audit import roles, views

app_name = "audit"

urlpatterns = [
    path("", views.FeedView.as_view(), name="feed"),
    path("export.csv", views.ExportView.as_view(), name="export"),
    path("entries/<uuid:context_id>/", views.EntryView.as_view(), name="entry"),
    path("events/<str:model>/<int:pgh_id>/", views.EventView.as_view(), name="event"),
    path("reasons/", views.ReasonReportView.as_view(), name="reasons"),
    path(
        "events/<str:model>/<int:pgh_id>/revert/", views.RevertView.as_view(), name="event-revert"
    ),
    path("staff-sessions/", views.StaffSessionListView.as_view(), name="staff-sessions"),
    path("roles/", roles.RoleListView.as_view(), name="roles"),
    path("roles/<int:pk>/", roles.RoleEditView.as_view(), name="role-edit"),
]
