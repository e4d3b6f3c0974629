from django.urls import path

from support import views

app_name = "support"

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="ticket-list"),
    path("tickets/new/", views.TicketCreateView.as_view(), name="ticket-create"),
    path("tickets/id/<int:pk>/", views.TicketByIdView.as_view(), name="ticket-by-id"),
    path("tickets/<str:number>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path("tickets/<str:number>/reply/", views.TicketReplyView.as_view(), name="ticket-reply"),
    path("tickets/<str:number>/status/", views.TicketStatusView.as_view(), name="ticket-status"),
    path("tickets/<str:number>/edit/", views.TicketUpdateView.as_view(), name="ticket-update"),
    path(
        "attachments/<int:pk>/",
        views.AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
    path("communications/", views.CommunicationListView.as_view(), name="communication-list"),
    path(
        "communications/new/",
        views.CommunicationCreateView.as_view(),
        name="communication-create",
    ),
    path(
        "communications/<int:pk>/",
        views.CommunicationDetailView.as_view(),
        name="communication-detail",
    ),
    path(
        "communications/<int:pk>/edit/",
        views.CommunicationUpdateView.as_view(),
        name="communication-update",
    ),
    path("communications/<int:pk>/done/", views.FollowUpDoneView.as_view(), name="follow-up-done"),
    path("follow-ups/", views.FollowUpListView.as_view(), name="follow-up-list"),
]
