"""What the apps register in ``core/extension_points.py`` adds up to the pages staff know: the same
tabs in the same order, the same sidebar per role, the same dashboard panels."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as HttpClient
from django.urls import reverse

from core import extension_points as ep
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.clients import ClientFactory
from tests.factories.second_factor import force_login_verified

pytestmark = pytest.mark.django_db

# The sidebar as it was written by hand before the apps registered it.
SIDEBAR = (
    ("Dashboard", "core:dashboard", None),
    ("Clients", "clients:client-list", "clients.view_client"),
    ("Services", "hosting:service-list", "hosting.view_service"),
    ("Domains", "hosting:domain-list", "hosting.view_domain"),
    ("Orders", "orders:order-list", "orders.view_order"),
    ("Tickets", "support:ticket-list", "support.view_ticket"),
    ("Communications", "support:communication-list", "support.view_communication"),
    ("Invoices", "billing:invoice-list", "billing.view_invoice"),
    ("Transactions", "billing:transaction-list", "billing.view_transaction"),
    ("Affiliates", "affiliates:affiliate-list", "affiliates.view_affiliate"),
    ("Knowledgebase", "kb:article-list", "kb.view_article"),
    ("Approvals", "approvals:request-list", "approvals.view_approvalrequest"),
)
AUDIT = (
    ("Audit trail", "audit:feed", "audit.review_audit"),
    ("Reason codes", "audit:reasons", "audit.review_audit"),
    ("Staff sessions", "audit:staff-sessions", "audit.review_audit"),
    ("Review queue", "review:queue", "review.review_entry"),
    ("Roles", "audit:roles", "auth.change_group"),
    ("Sign-in security", "accounts:staff", "auth.change_user"),
    (
        "Background jobs",
        "admin:procrastinate_procrastinatejob_changelist",
        "procrastinate.view_procrastinatejob",
    ),
)


def test_every_declared_key_is_registered():
    for kind, order in ep.ORDERS.items():
        assert [p.key for p in ep.registered(kind)] == list(order), kind.__name__


def test_a_key_missing_from_its_order_list_is_refused():
    with pytest.raises(ImproperlyConfigured, match="order list"):
        ep.register(ep.NavSection("nowhere", "Nowhere", "core:dashboard", None))


@pytest.mark.parametrize("role", [ADMIN, BILLING, SUPPORT, READ_ONLY])
def test_the_sidebar_per_role_is_as_before(make_staff, role):
    user = make_staff(role)
    http = force_login_verified(HttpClient(), user)
    groups = http.get(reverse("core:dashboard")).context["nav_groups"]

    def expected(sections):
        return [label for label, _url, perm in sections if perm is None or user.has_perm(perm)]

    assert [i["label"] for i in groups[0]["items"]] == expected(SIDEBAR)
    audit = [g for g in groups if g["heading"] == "Audit"]
    assert [i["label"] for g in audit for i in g["items"]] == expected(AUDIT)
    assert [g["heading"] for g in groups] == ["", *(["Audit"] if expected(AUDIT) else [])]


def test_the_profile_tabs_of_an_admin_in_order(staff_client):
    customer = ClientFactory()
    page = staff_client.get(customer.get_absolute_url())
    assert [t.label for t in page.context["tabs"]] == [
        "Summary",
        "Timeline",
        "Contacts",
        "Notes",
        "Custom fields",
        "Emails",
        "Products/Services",
        "Domains",
        "Orders",
        "Invoices",
        "Tickets",
        "Communications",
        "Transactions",
        "Credit & billable items",
        "Affiliate",
    ]
    html = page.content.decode()
    assert f'href="{customer.get_absolute_url()}">Summary</a>' in html
    assert "?tab=history" in html  # History, the audit's tab, last
    assert html.index("?tab=affiliate") < html.index('?tab=history">History')


def test_the_dashboard_panels_of_an_admin_in_order(staff_client):
    panels = staff_client.get(reverse("core:dashboard")).context["panels"]
    assert [p["key"] for p in panels] == [
        "clients",
        "hosting",
        "tickets",
        "follow_ups",
        "billing",
        "orders",
        "approvals",
        "audit",
        "review",
    ]


def test_a_role_without_panels_is_told_so(client_as):
    page = client_as(None).get(reverse("core:dashboard"))
    assert page.context["panels"] == []
    assert "Your role has no sections yet" in page.content.decode()


def test_an_invoice_status_change_carries_the_money_that_caused_it(staff_admin):
    from billing import services as billing
    from tests.factories.billing import make_invoice, pay

    seen: list[ep.InvoiceStatusChange] = []
    handlers = [
        ep.InvoiceStatusHandler(f"test.{status}", status, seen.append)
        for status in ("paid", "refunded", "cancelled")
    ]
    ep.register(*handlers)
    try:
        invoice = make_invoice(lines=[("1", "50.00")], actor=staff_admin)
        payment = pay(invoice, actor=staff_admin)
        refund = billing.refund_payment(payment=payment, actor=staff_admin, reason="Cancelled")
    finally:
        for handler in handlers:
            ep.unregister(handler)
    paid, refunded = seen
    assert (paid.invoice, paid.old_status, paid.new_status) == (invoice, "unpaid", "paid")
    assert paid.transaction == payment and paid.refund is None
    assert (refunded.old_status, refunded.new_status, refunded.reason) == (
        "paid",
        "refunded",
        "Cancelled",
    )
    assert refunded.refund == refund and refunded.actor == staff_admin
