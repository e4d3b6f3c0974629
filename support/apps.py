from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"

    def ready(self) -> None:
        # The client profile's Tickets and Communications tabs, timeline entries, the service
        # page's Tickets tab, the dashboard panels and the sidebar (core/extension_points.py).
        from support import extensions  # noqa: F401
