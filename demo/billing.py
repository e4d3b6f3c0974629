"""Billing defaults a new installation needs: the invoice series and common tax rules."""

from __future__ import annotations

from decimal import Decimal

from billing.models import InvoiceSeries, TaxRule

# Standard VAT rates, as a starting point for the Admin to review in the Django admin.
STARTER_VAT = {
    "GB": "20",
    "DE": "19",
    "FR": "20",
    "NL": "21",
    "ES": "21",
    "IE": "23",
    "IT": "22",
}


def load_billing_defaults() -> None:
    """Idempotent: adds what is missing, never changes what an Admin has edited."""
    if not InvoiceSeries.objects.exists():
        InvoiceSeries.objects.create(
            code="inv",
            name="Invoices",
            number_format="INV-{year}-{number:06d}",
            is_default=True,
        )
    for country, rate in STARTER_VAT.items():
        if not TaxRule.objects.filter(level=1, country=country, region="").exists():
            TaxRule.objects.create(level=1, name="VAT", rate=Decimal(rate), country=country)
