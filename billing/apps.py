from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Client profile tabs, the currency lock, notes about invoices, the dashboard panel.
        from billing import integration  # noqa: F401
