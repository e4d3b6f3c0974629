from django.apps import AppConfig


class AffiliatesConfig(AppConfig):
    name = "affiliates"

    def ready(self) -> None:
        # The client profile's Affiliate tab, the sidebar, and reversing commissions of refunded
        # invoices (core/extension_points.py).
        from affiliates import extensions  # noqa: F401
