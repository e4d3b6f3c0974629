from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # Client profile tab, the service page's "Changes" tab, the dashboard panel, and what
        # happens when an upgrade invoice is paid or cancelled.
        from orders import integration  # noqa: F401
