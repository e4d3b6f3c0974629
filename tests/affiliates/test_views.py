from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from affiliates.models import Affiliate, Commission, Payout, Referral
from tests.factories.affiliates import cleared_commission, enrol
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def test_enrol_from_the_client_profile(client_as):
    http = client_as("Billing")
    customer = ClientFactory(company_name="Partner Co")
    tab = http.get(customer.get_absolute_url() + "?tab=affiliate")
    assert b"Enrol as affiliate" in tab.content
    url = reverse("affiliates:affiliate-enrol", args=[customer.pk])
    response = http.post(
        url,
        {
            "code": "",
            "commission_type": "percentage",
            "commission_value": "15",
            "payout_threshold": "",
            "notes": "",
        },
    )
    affiliate = Affiliate.objects.get()
    assert response.status_code == 302 and affiliate.code == "PARTNERCO"
    assert affiliate.commission_value == Decimal("15.00")


def test_bad_enrolment_keeps_the_input(client_as):
    http = client_as("Billing")
    customer = ClientFactory()
    response = http.post(
        reverse("affiliates:affiliate-enrol", args=[customer.pk]),
        {
            "code": "bad code!",
            "commission_type": "fixed",
            "commission_value": "abc",
            "payout_threshold": "",
            "notes": "keep me",
        },
    )
    assert response.status_code == 400 and b"keep me" in response.content
    assert "commission_value" in response.context["form"].errors
    assert not Affiliate.objects.exists()


def test_referral_commission_and_payout_pages(client_as, staff_admin):
    http = client_as("Billing")
    affiliate = enrol(actor=staff_admin, payout_threshold=Decimal("5"))
    referred = ClientFactory(currency="GBP")
    response = http.post(
        reverse("affiliates:referral-create", args=[affiliate.pk]),
        {"client": referred.pk, "service": "", "reason": ""},
    )
    assert response.status_code == 302 and Referral.objects.get().client == referred
    invoice = make_invoice(referred, lines=[("1", "40.00")], actor=staff_admin)
    pay(invoice, actor=staff_admin)
    response = http.post(
        reverse("affiliates:commission-create", args=[affiliate.pk]),
        {"invoice": invoice.number, "amount": "", "reason": "", "clears_on": ""},
    )
    assert response.status_code == 302
    assert Commission.objects.get().amount == Decimal("4.00")  # 10% default of 40.00
    cleared_commission(affiliate, "20.00", actor=staff_admin)
    too_much = http.post(
        reverse("affiliates:payout-create", args=[affiliate.pk]),
        {
            "amount": "500",
            "method": "manual",
            "gateway": "",
            "reference": "",
            "reason": "",
            "reason_code": "scheduled",
        },
    )
    assert too_much.status_code == 400
    assert "balance" in str(too_much.context["form"].errors["amount"])
    ok = http.post(
        reverse("affiliates:payout-create", args=[affiliate.pk]),
        {
            "amount": "20",
            "method": "manual",
            "gateway": "",
            "reference": "",
            "reason": "",
            "reason_code": "scheduled",
        },
    )
    assert ok.status_code == 302 and Payout.objects.get().amount == Decimal("20.00")
    page = http.get(affiliate.get_absolute_url())
    assert page.status_code == 200 and page.context["affiliate"].balance == Decimal("0.00")


def test_unknown_invoice_number_is_a_field_error(client_as, staff_admin):
    affiliate = enrol(actor=staff_admin)
    response = client_as("Billing").post(
        reverse("affiliates:commission-create", args=[affiliate.pk]),
        {"invoice": "NOPE-1", "amount": "", "reason": "", "clears_on": ""},
    )
    assert response.status_code == 400 and "invoice" in response.context["form"].errors


def test_support_and_read_only_see_but_cannot_change(client_as, staff_admin):
    affiliate = enrol(actor=staff_admin)
    for role in ("Support", "Read-only"):
        http = client_as(role)
        assert http.get(affiliate.get_absolute_url()).status_code == 200
        assert http.get(reverse("affiliates:payout-create", args=[affiliate.pk])).status_code == 403


def test_affiliate_list_and_detail_run_a_constant_number_of_queries(
    staff_client, staff_admin, django_assert_max_num_queries
):
    for _ in range(3):
        cleared_commission(enrol(actor=staff_admin), "5.00", actor=staff_admin)
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("affiliates:affiliate-list"))
    assert len(response.context["object_list"]) == 3
    affiliate = Affiliate.objects.first()
    for _ in range(10):
        cleared_commission(affiliate, "1.00", actor=staff_admin)
    with django_assert_max_num_queries(14):
        staff_client.get(affiliate.get_absolute_url())
