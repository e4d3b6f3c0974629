from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        # The client profile's Tickets and Communications tabs, timeline entries, the service
        # page's Tickets tab and the dashboard panels.
        from support import integration  # noqa: F401
