"""The invoice editor's save is one service (``save_draft``): draft, publish and email in one
transaction, so the view composes nothing (issue 16 part 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing import services
from billing.models import Invoice
from billing.services import invoices
from clients.models import EmailLog
from tests.factories.billing import line
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _save(customer, actor, **kwargs):
    today = timezone.localdate()
    return services.save_draft(
        client=customer,
        lines=[line(unit_price="50.00")],
        issue_date=today,
        due_date=today + dt.timedelta(days=14),
        actor=actor,
        **kwargs,
    )


def test_save_draft_publishes_and_emails_when_asked(staff_admin):
    customer = ClientFactory()
    invoice = _save(customer, staff_admin, publish=True, send_email=True)
    assert invoice.number and invoice.status == Invoice.Status.UNPAID
    assert EmailLog.objects.filter(client=customer).exists()


def test_a_refused_publish_leaves_no_new_draft(staff_admin, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError("No.", code="no_lines")

    # save_draft looks publish_invoice up in its own module, not in the package's re-export.
    monkeypatch.setattr(invoices, "publish_invoice", refuse)
    customer = ClientFactory()
    with pytest.raises(ValidationError):
        _save(customer, staff_admin, publish=True)
    assert not Invoice.objects.filter(client=customer).exists()


def test_preview_totals_are_what_saving_stores(staff_admin):
    customer = ClientFactory()
    lines = [line(quantity="1.5", unit_price="0.33"), line(unit_price="10.00", taxed=False)]
    totals = services.preview_totals(client=customer, lines=lines)
    today = timezone.localdate()
    invoice = services.save_draft(
        client=customer,
        lines=lines,
        issue_date=today,
        due_date=today,
        actor=staff_admin,
    )
    assert (totals.subtotal, totals.total) == (invoice.subtotal, invoice.total)
