"""Billing's emails: the invoice with its PDF (rendered by the outbox after the commit) and the
payment receipt, to the client and its contacts who receive invoices.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

import audit.context
from billing.models import Invoice, Transaction
from clients.models import Client, EmailLog
from core.emails import render_text


def _invoice_recipients(client: Client) -> list[str]:
    to = [client.billing_email or client.email]
    to += [c.email for c in client.contacts.filter(receives_invoices=True) if c.email not in to]
    return to


# The outbox renders the PDF when the email goes out (registered in ``integration``), never
# inside the transaction that publishes: WeasyPrint takes a while and the series is locked.
INVOICE_PDF = "billing.invoice_pdf"


def invoice_pdf_attachment(invoice_id: int) -> tuple[bytes, str]:
    from billing.pdf import invoice_pdf

    return invoice_pdf(Invoice.objects.select_related("client").get(pk=invoice_id)), (
        "application/pdf"
    )


@transaction.atomic
def email_invoice(*, invoice: Invoice, actor: AbstractBaseUser | None) -> EmailLog:
    """Email the invoice with its PDF: logged in the client's email log now; the PDF is
    rendered and the email sent after the commit."""
    from clients.outbox import Attachment, queue_email

    invoice = Invoice.objects.select_related("client").get(pk=invoice.pk)
    if invoice.is_draft:
        raise ValidationError("Publish the invoice before emailing it.", code="not_published")
    client = invoice.client
    body = render_text(
        "billing/emails/invoice.txt",
        {"invoice": invoice, "client": client, "company": settings.COMPANY_NAME},
    )
    with audit.context.context(action="billing.email_invoice", actor=actor):
        return queue_email(
            client=client,
            kind=EmailLog.Kind.INVOICE,
            to=_invoice_recipients(client),
            subject=f"Invoice {invoice.number}",
            body=body,
            actor=actor,
            attachments=[Attachment(INVOICE_PDF, invoice.pk, f"{invoice.number}.pdf")],
        )


def _send_receipt(
    *, payment: Transaction, invoices: Sequence[Invoice], actor: AbstractBaseUser | None
) -> EmailLog:
    from clients.outbox import queue_email

    client = payment.client
    body = render_text(
        "billing/emails/receipt.txt",
        {
            "payment": payment,
            "invoices": invoices,
            "client": client,
            "company": settings.COMPANY_NAME,
        },
    )
    return queue_email(
        client=client,
        kind=EmailLog.Kind.RECEIPT,
        to=_invoice_recipients(client),
        subject=f"Payment received - {payment.amount_in} {payment.currency}",
        body=body,
        actor=actor,
    )
