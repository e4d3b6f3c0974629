"""Reason codes: a short, countable reason beside the free text on sensitive actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit import reasons
from audit.models import ReasonCode
from audit.tracking import event_model_for
from billing.models import CreditEntry
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _context_of(record):
    events = event_model_for(type(record)).objects.filter(pgh_obj_id=record.pk).order_by("pgh_id")
    return events.select_related("pgh_context").first().pgh_context.metadata


def _credit(http, customer, amount="20.00", code="goodwill", reason="Outage on the 3rd"):
    data = {"action": "add", "amount": amount, "reason": reason}
    if code is not None:
        data["reason_code"] = code
    return http.post(reverse("billing:credit-change", args=[customer.pk]), data)


def test_the_credit_page_offers_the_codes_of_its_list_and_requires_one(client_as):
    http, customer = client_as("Billing"), ClientFactory()
    page = http.get(reverse("billing:credit-change", args=[customer.pk]))
    assert b"SLA compensation" in page.content and b"Goodwill" in page.content
    refused = _credit(http, customer, code=None)
    assert refused.status_code == 400 and "reason_code" in refused.context["form"].errors
    assert refused.context["form"]["amount"].value() == "20.00"  # the input is kept
    assert not CreditEntry.objects.exists()


def test_other_needs_the_text_and_a_listed_code_does_not(client_as, make_staff):
    from affiliates.models import Payout
    from tests.factories.affiliates import cleared_commission, enrol

    clerk = make_staff("Billing")
    affiliate = enrol(actor=clerk, payout_threshold=Decimal("1"))
    cleared_commission(affiliate, "50.00", actor=clerk)
    http = client_as("Billing")
    url = reverse("affiliates:payout-create", args=[affiliate.pk])
    form = {"amount": "5.00", "method": "manual", "reference": "", "gateway": "", "reason": ""}
    refused = http.post(url, {**form, "reason_code": "other"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["reason"][0].startswith("Say what it was")
    assert http.post(url, {**form, "reason_code": "scheduled"}).status_code == 302
    assert Payout.objects.count() == 1


def test_the_code_and_the_money_go_with_the_entry_not_with_the_calls_it_makes(client_as):
    customer = ClientFactory(currency="EUR")
    _credit(client_as("Billing"), customer, amount="30.00", code="sla")
    entry = CreditEntry.objects.get()
    metadata = _context_of(entry)
    assert metadata["action"] == "billing.add_credit"
    assert (metadata["reason_code"], metadata["amount"], metadata["currency"]) == (
        "sla",
        "30.00",
        "EUR",
    )


def test_an_inner_service_call_does_not_inherit_the_code():
    import audit.context

    with (
        audit.context.root(channel="web"),
        audit.context.context(reason_code="sla", amount="1"),
        audit.context.context(action="billing.add_credit") as outer,
        audit.context.context(action="billing.inner") as inner,
    ):
        pass
    assert outer.metadata["reason_code"] == "sla"
    assert "reason_code" not in inner.metadata and "amount" not in inner.metadata


def test_the_feed_filters_on_a_reason_code(client_as, staff_client):
    http = client_as("Billing")
    _credit(http, ClientFactory(), code="goodwill", reason="Kind words")
    _credit(http, ClientFactory(), code="billing_error", reason="Wrong plan billed")
    page = staff_client.get(reverse("audit:feed"), {"reason_code": "billing_error"})
    assert b"Wrong plan billed" in page.content and b"Kind words" not in page.content


def test_the_report_counts_per_code_action_staff_and_month_with_amounts(client_as, staff_client):
    http = client_as("Billing", username="bob")
    _credit(http, ClientFactory(currency="USD"), amount="10.00", code="goodwill")
    _credit(http, ClientFactory(currency="USD"), amount="15.50", code="goodwill")
    _credit(http, ClientFactory(currency="USD"), amount="5.00", code="sla")
    rows = reasons.report()
    goodwill = [r for r in rows if r.code == "goodwill"]
    assert len(goodwill) == 1
    row = goodwill[0]
    assert (row.action, row.username, row.count, row.currency, row.amount) == (
        "billing.add_credit",
        "bob",
        2,
        "USD",
        Decimal("25.50"),
    )
    assert row.month == timezone.now().date().replace(day=1)  # the month (UTC) it was entered
    page = staff_client.get(reverse("audit:reasons"))
    assert page.status_code == 200 and b"Goodwill" in page.content and b"25.50 USD" in page.content
    csv = b"".join(staff_client.get(reverse("audit:reasons"), {"format": "csv"}).streaming_content)
    assert b"billing.add_credit,goodwill,Goodwill,bob,2,USD,25.50" in csv


def test_the_report_honours_its_dates(client_as):
    _credit(client_as("Billing"), ClientFactory(), code="goodwill")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert reasons.report(since=tomorrow) == []
    assert reasons.report(until=timezone.localdate())


def test_a_code_an_admin_switched_off_is_no_longer_offered_and_a_new_one_is(client_as):
    ReasonCode.objects.filter(action="billing.add_credit", code="migration").update(active=False)
    ReasonCode.objects.create(action="billing.add_credit", code="promo", label="Promotion")
    page = client_as("Billing").get(reverse("billing:credit-change", args=[ClientFactory().pk]))
    assert b"Migration from another system" not in page.content
    assert b"Promotion" in page.content


def test_only_admins_see_the_report(client_as):
    assert client_as("Billing").get(reverse("audit:reasons")).status_code == 403


@pytest.mark.four_eyes
def test_an_approved_request_carries_the_makers_code_into_the_entry(client_as, make_staff):
    from approvals import services as approvals
    from approvals.models import ApprovalRequest

    customer = ClientFactory(currency="USD")
    _credit(client_as("Billing", username="maker"), customer, amount="80.00", code="sla")
    made = ApprovalRequest.objects.get()
    assert made.reason_code == "sla" and not CreditEntry.objects.exists()
    approvals.approve_request(
        request=made, approver=make_staff("Billing", username="checker"), reason="ok"
    )
    metadata = _context_of(CreditEntry.objects.get())
    assert metadata["reason_code"] == "sla" and metadata["amount"] == "80.00"
    assert metadata["approved_by_name"] == "checker" and metadata["username"] == "maker"


def test_the_sidebar_marks_only_the_section_the_page_is_under(staff_client):
    groups = staff_client.get(reverse("audit:reasons")).context["nav_groups"]
    active = [i["label"] for g in groups for i in g["items"] if i["active"]]
    assert active == ["Reason codes"]


def test_the_report_names_a_code_by_its_own_lists_label(client_as, make_staff):
    from affiliates.models import Payout
    from tests.factories.affiliates import cleared_commission, enrol

    ReasonCode.objects.filter(action="billing.add_credit", code="other").update(
        label="Other credit"
    )
    clerk = make_staff("Billing")
    affiliate = enrol(actor=clerk, payout_threshold=Decimal("1"))
    cleared_commission(affiliate, "50.00", actor=clerk)
    form = {"amount": "5.00", "method": "manual", "reference": "", "gateway": ""}
    client_as("Billing").post(
        reverse("affiliates:payout-create", args=[affiliate.pk]),
        {**form, "reason_code": "other", "reason": "Asked twice"},
    )
    assert Payout.objects.count() == 1
    _credit(client_as("Billing"), ClientFactory(), code="other", reason="Special case")
    named = {(r.action, r.label) for r in reasons.report()}
    assert ("affiliates.record_payout", "Other") in named
    assert ("billing.add_credit", "Other credit") in named


def test_the_report_with_only_an_end_date_shows_the_year_before_it(client_as, staff_client):
    _credit(client_as("Billing"), ClientFactory(), code="goodwill", reason="Kind words")
    next_month = timezone.localdate() + dt.timedelta(days=40)
    page = staff_client.get(reverse("audit:reasons"), {"until": next_month.isoformat()})
    assert page.status_code == 200 and page.context["rows"]
    assert page.context["since"] == next_month - dt.timedelta(days=365)
    backwards = staff_client.get(
        reverse("audit:reasons"), {"since": "2026-06-01", "until": "2026-01-01"}
    )
    assert backwards.status_code == 400 and "until" in backwards.context["form"].errors
