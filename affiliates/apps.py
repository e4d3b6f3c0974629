from django.apps import AppConfig


class AffiliatesConfig(AppConfig):
    name = "affiliates"

    def ready(self) -> None:
        # The client profile's Affiliate tab, and reversing commissions of refunded invoices.
        from affiliates import integration  # noqa: F401
