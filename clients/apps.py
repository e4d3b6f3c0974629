from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"

    def ready(self) -> None:
        # The profile's own tabs, timeline entries, a dashboard panel, the sidebar's Clients
        # section and the set-password email body (core/extension_points.py).
        from clients import extensions  # noqa: F401
