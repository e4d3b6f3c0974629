from django.urls import path

from clients import views

app_name = "clients"

urlpatterns = [
    path("", views.ClientListView.as_view(), name="client-list"),
    path("new/", views.ClientCreateView.as_view(), name="client-create"),
    path("duplicates/", views.DuplicateCheckView.as_view(), name="client-duplicates"),
    path("autocomplete/", views.ClientAutocompleteView.as_view(), name="client-autocomplete"),
    path("<int:pk>/", views.ClientDetailView.as_view(), name="client-detail"),
    path("<int:pk>/edit/", views.ClientUpdateView.as_view(), name="client-update"),
    path("<int:pk>/close/", views.ClientCloseView.as_view(), name="client-close"),
    path("<int:pk>/reactivate/", views.ClientReactivateView.as_view(), name="client-reactivate"),
    path("<int:pk>/delete/", views.ClientDeleteView.as_view(), name="client-delete"),
    path("<int:pk>/password/", views.ClientPasswordView.as_view(), name="client-password"),
    path(
        "<int:pk>/password-link/",
        views.ClientPasswordLinkView.as_view(),
        name="client-password-link",
    ),
    path("<int:pk>/email/", views.ClientEmailView.as_view(), name="client-email"),
    path("<int:pk>/contacts/new/", views.ContactCreateView.as_view(), name="contact-create"),
    path("contacts/<int:pk>/edit/", views.ContactUpdateView.as_view(), name="contact-update"),
    path("contacts/<int:pk>/remove/", views.ContactRemoveView.as_view(), name="contact-remove"),
    path("<int:pk>/notes/new/", views.NoteCreateView.as_view(), name="note-create"),
    path("notes/<int:pk>/edit/", views.NoteUpdateView.as_view(), name="note-update"),
    path("notes/<int:pk>/pin/", views.NotePinView.as_view(), name="note-pin"),
    path("set-password/<str:token>/", views.SetPasswordView.as_view(), name="set-password"),
]
