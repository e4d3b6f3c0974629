from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # Client profile tab, the service page's "Changes" tab, the dashboard panel, the
        # timeline, the sidebar, and what happens when an upgrade invoice is paid or cancelled
        # (core/extension_points.py).
        from orders import extensions  # noqa: F401
