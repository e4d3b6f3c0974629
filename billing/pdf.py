"""Invoice PDFs: the HTML template ``billing/invoice_pdf.html`` rendered by WeasyPrint.

WeasyPrint lays text out with Pango and the system's fonts (DejaVu, from Debian's
``fonts-dejavu-core``, which ``make system-deps`` installs); no asset is fetched from the network:
the stylesheet is inline and ``url_fetcher`` refuses every URL.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.template.loader import render_to_string

from billing.models import Invoice


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot load its system libraries (Pango) on this machine."""


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"Invoice PDFs load nothing from outside ({url})")


def render_invoice_html(invoice: Invoice) -> str:
    items = list(invoice.items.all())
    payments = list(invoice.allocations.select_related("transaction", "credit_entry"))
    return render_to_string(
        "billing/invoice_pdf.html",
        {
            "invoice": invoice,
            "client": invoice.client,
            "items": items,
            "payments": payments,
            "refunded": invoice.refunded_amount,
            "company": {
                "name": settings.COMPANY_NAME,
                "address": settings.COMPANY_ADDRESS.replace("\\n", "\n"),
                "tax_id": settings.COMPANY_TAX_ID,
            },
        },
    )


def invoice_pdf(invoice: Invoice) -> bytes:
    try:
        from weasyprint import HTML
    except OSError as exc:  # Pango missing: say so instead of a bare 500
        raise PdfUnavailable(
            "PDF rendering needs Pango and fonts: run `make system-deps` (Debian packages)."
        ) from exc
    html = render_invoice_html(invoice)
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()
