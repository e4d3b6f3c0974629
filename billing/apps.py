from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Client profile tabs, the currency lock, notes about invoices, the dashboard panel, the
        # timeline, the sidebar, invoice PDFs for emails (core/extension_points.py).
        from billing import extensions  # noqa: F401
