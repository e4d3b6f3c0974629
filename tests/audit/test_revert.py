"""Undo of a plain field edit from an audit entry page (issue 19 §4)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pghistory.models import Context

from audit import revert
from audit.tracking import event_model_for
from billing.models import Invoice, Transaction
from clients.models import Client, Contact
from clients.services import set_client_password, update_client, update_contact
from core.roles import ADMIN, BILLING, SUPPORT
from tests.factories.billing import make_invoice, pay
from tests.factories.clients import ClientFactory, ContactFactory
from tests.factories.second_factor import force_login_verified

pytestmark = pytest.mark.django_db


def _latest_event(record):
    return event_model_for(type(record)).objects.filter(pgh_obj_id=record.pk).latest("pgh_id")


def _edit_email(admin, customer, email="new@example.com", reason="typo in the form"):
    update_client(client=customer, data={"email": email}, actor=admin, reason=reason)
    return _latest_event(customer)


def _url(label, event):
    return reverse("audit:event-revert", args=[label, event.pgh_id])


def test_revert_of_a_field_edit_restores_the_old_values_and_is_itself_audited(make_staff):
    admin = make_staff(ADMIN, username="ada")
    customer = ClientFactory(email="old@example.com", city="Leeds")
    update_client(
        client=customer,
        data={"email": "new@example.com", "city": "York"},
        actor=admin,
        reason="moved",
    )
    edit = _latest_event(customer)
    entry = revert.revert_event(
        label="clients.client", pgh_id=edit.pgh_id, actor=admin, reason="wrong client"
    )
    customer.refresh_from_db()
    assert (customer.email, customer.city) == ("old@example.com", "Leeds")
    undo = _latest_event(customer)
    assert undo.pgh_context_id == entry
    metadata = undo.pgh_context.metadata
    assert metadata["action"] == "clients.update_client"
    assert metadata["within"] == "audit.revert_entry"
    assert metadata["reason"] == "wrong client"
    assert metadata["reverts"] == str(edit.pgh_context_id)
    assert metadata["reverts_event"] == f"clients.client:{edit.pgh_id}"
    assert metadata["username"] == "ada"


def test_the_revert_entry_shows_old_to_new_and_links_both_ways(staff_client, staff_admin):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    entry = revert.revert_event(
        label="clients.client", pgh_id=edit.pgh_id, actor=staff_admin, reason="undo"
    )
    page = staff_client.get(reverse("audit:entry", args=[entry])).content.decode()
    assert "Reverts entry" in page
    assert reverse("audit:entry", args=[edit.pgh_context_id]) in page
    # The trail reads new → old: the revert's row shows the edit's new value before the old.
    assert page.index("new@example.com") < page.index("old@example.com")
    original = staff_client.get(reverse("audit:entry", args=[edit.pgh_context_id]))
    body = original.content.decode()
    assert "Reverted by entry" in body
    assert reverse("audit:entry", args=[entry]) in body
    # Reverted once: no second Revert button for that change.
    assert _url("clients.client", edit) not in body


def test_the_revert_page_previews_each_field_and_needs_a_reason(staff_client, staff_admin):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    page = staff_client.get(_url("clients.client", edit))
    assert page.status_code == 200
    [change] = page.context["preview_row"]["changes"]
    assert (change.label, change.old, change.new) == (
        "Email address",
        "new@example.com",
        "old@example.com",
    )
    refused = staff_client.post(_url("clients.client", edit), {"reason": "  "})
    assert refused.status_code == 400
    customer.refresh_from_db()
    assert customer.email == "new@example.com"


def test_a_revert_from_the_page_redirects_to_the_new_entry(staff_client, staff_admin):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    response = staff_client.post(_url("clients.client", edit), {"reason": "wrong client"})
    customer.refresh_from_db()
    assert customer.email == "old@example.com"
    assert response.status_code == 302
    assert response.url == reverse("audit:entry", args=[_latest_event(customer).pgh_context_id])


def test_the_entry_page_offers_revert_only_with_the_right(client_as, make_staff):
    admin = make_staff(ADMIN)
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(admin, customer)
    url = reverse("audit:entry", args=[edit.pgh_context_id])
    assert "Revert…" in client_as(ADMIN).get(url).content.decode()
    reviewer = make_staff(SUPPORT)
    reviewer.user_permissions.add(*_perms("review_audit"))
    http = force_login_verified(HttpClient(), reviewer)
    assert http.get(url).status_code == 200
    assert "Revert…" not in http.get(url).content.decode()


def _perms(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="audit", codename__in=codenames)


@pytest.mark.parametrize("role", [BILLING, SUPPORT])
def test_revert_is_refused_without_the_right(client_as, make_staff, role):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(make_staff(ADMIN), customer)
    http = client_as(role)
    assert http.get(_url("clients.client", edit)).status_code == 403
    assert http.post(_url("clients.client", edit), {"reason": "x"}).status_code == 403
    customer.refresh_from_db()
    assert customer.email == "new@example.com"


def test_a_reviewer_without_the_revert_right_may_read_but_not_revert(make_staff):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(make_staff(ADMIN), customer)
    reviewer = make_staff(SUPPORT)
    reviewer.user_permissions.add(*_perms("review_audit"))
    http = force_login_verified(HttpClient(), reviewer)
    assert http.get(reverse("audit:entry", args=[edit.pgh_context_id])).status_code == 200
    assert http.get(_url("clients.client", edit)).status_code == 403
    assert http.post(_url("clients.client", edit), {"reason": "x"}).status_code == 403
    customer.refresh_from_db()
    assert customer.email == "new@example.com"


def test_only_admins_hold_the_revert_right_by_default(make_staff):
    assert make_staff(ADMIN).has_perm(revert.RIGHT)
    for role in (BILLING, SUPPORT, "Read-only"):
        assert not make_staff(role).has_perm(revert.RIGHT)


def test_revert_needs_the_right_to_edit_the_record(make_staff):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(make_staff(ADMIN), customer)
    outsider = make_staff("Read-only")
    outsider.user_permissions.add(*_perms("review_audit", "revert_entry"))
    outsider = type(outsider).objects.get(pk=outsider.pk)  # fresh permission cache
    with pytest.raises(ValidationError) as refused:
        revert.revert_event(
            label="clients.client", pgh_id=edit.pgh_id, actor=outsider, reason="undo"
        )
    assert refused.value.code == "not_allowed"


def test_revert_is_refused_when_the_record_changed_since(staff_client, staff_admin):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    update_client(client=customer, data={"city": "Hull"}, actor=staff_admin, reason="later")
    found = revert.plan(label="clients.client", pgh_id=edit.pgh_id)
    assert found.code == revert.STALE
    assert "changed since this entry" in found.refusal
    with pytest.raises(ValidationError) as refused:
        revert.revert_event(
            label="clients.client", pgh_id=edit.pgh_id, actor=staff_admin, reason="undo"
        )
    assert refused.value.code == "revert_stale"
    page = staff_client.get(_url("clients.client", edit))
    assert "Edit the client" in page.content.decode()
    posted = staff_client.post(_url("clients.client", edit), {"reason": "undo"})
    assert posted.status_code == 400
    customer.refresh_from_db()
    assert (customer.email, customer.city) == ("new@example.com", "Hull")


def test_a_revert_racing_another_edit_is_refused_by_the_service(staff_admin, monkeypatch):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    real_plan = revert.plan

    def plan_then_someone_edits(**kwargs):
        found = real_plan(**kwargs)
        Client.objects.filter(pk=customer.pk).update(city="Raced")  # after the check, unseen
        return found

    monkeypatch.setattr(revert, "plan", plan_then_someone_edits)
    with pytest.raises(ValidationError) as refused:
        revert.revert_event(
            label="clients.client", pgh_id=edit.pgh_id, actor=staff_admin, reason="undo"
        )
    assert refused.value.code == "revert_stale"


def test_a_reverted_edit_cannot_be_reverted_twice(staff_admin):
    customer = ClientFactory(email="old@example.com")
    edit = _edit_email(staff_admin, customer)
    revert.revert_event(label="clients.client", pgh_id=edit.pgh_id, actor=staff_admin, reason="a")
    assert revert.plan(label="clients.client", pgh_id=edit.pgh_id).code == revert.STALE


def test_a_status_change_the_map_forbids_is_refused(staff_admin):
    customer = ClientFactory(status="inactive")
    update_client(client=customer, data={"status": "closed"}, actor=staff_admin, reason="gone")
    edit = _latest_event(customer)
    with pytest.raises(ValidationError) as refused:
        revert.revert_event(
            label="clients.client", pgh_id=edit.pgh_id, actor=staff_admin, reason="undo"
        )
    assert refused.value.code == "invalid_transition"
    customer.refresh_from_db()
    assert customer.status == "closed"


def test_a_contact_edit_is_reverted_through_the_contact_service(staff_admin):
    contact = ContactFactory(first_name="Ann")
    update_contact(contact=contact, data={"first_name": "Anne"}, actor=staff_admin, reason="x")
    edit = _latest_event(contact)
    revert.revert_event(label="clients.contact", pgh_id=edit.pgh_id, actor=staff_admin, reason="y")
    contact = Contact.objects.get(pk=contact.pk)
    assert contact.first_name == "Ann"
    assert _latest_event(contact).pgh_context.metadata["action"] == "clients.update_contact"


def test_a_hosting_account_edit_is_reverted_through_the_hosting_service(staff_admin):
    from hosting.models import Service
    from hosting.services import update_service
    from tests.factories.hosting import ServiceFactory

    service = ServiceFactory(admin_notes="first")
    update_service(service=service, data={"admin_notes": "second"}, actor=staff_admin)
    edit = _latest_event(service)
    revert.revert_event(label="hosting.service", pgh_id=edit.pgh_id, actor=staff_admin, reason="y")
    assert Service.objects.get(pk=service.pk).admin_notes == "first"
    assert _latest_event(service).pgh_context.metadata["action"] == "hosting.update_service"


def test_a_ticket_subject_edit_is_reverted_through_the_support_service(staff_admin):
    from support.models import Ticket
    from support.services import update_ticket
    from tests.factories.support import open_ticket

    ticket = open_ticket(actor=staff_admin, subject="Site down")
    update_ticket(ticket=ticket, data={"subject": "Site slow"}, actor=staff_admin)
    edit = _latest_event(ticket)
    revert.revert_event(label="support.ticket", pgh_id=edit.pgh_id, actor=staff_admin, reason="y")
    assert Ticket.objects.get(pk=ticket.pk).subject == "Site down"


def test_an_article_edit_is_reverted_as_a_new_revision(staff_admin):
    from kb.models import Article
    from kb.services import save_article
    from tests.factories.kb import write_article

    article = write_article(actor=staff_admin, title="Resetting a password")
    save_article(article=article, data={"title": "Reset passwords"}, actor=staff_admin)
    edit = _latest_event(article)
    revert.revert_event(label="kb.article", pgh_id=edit.pgh_id, actor=staff_admin, reason="y")
    article = Article.objects.get(pk=article.pk)
    assert article.title == "Resetting a password"
    assert article.revisions.count() == 3


def test_a_published_invoice_is_not_reverted_and_the_page_says_what_to_do(
    staff_client, staff_admin
):
    invoice = make_invoice(actor=staff_admin)
    published = _latest_event(invoice)
    assert published.pgh_label == "update"
    found = revert.plan(label="billing.invoice", pgh_id=published.pgh_id)
    assert not found.revertible
    assert "published" in found.refusal
    assert found.instead_url == invoice.get_absolute_url()
    page = staff_client.get(_url("billing.invoice", published)).content.decode()
    assert "Cancel the invoice" in page
    assert invoice.get_absolute_url() in page
    posted = staff_client.post(_url("billing.invoice", published), {"reason": "undo"})
    assert posted.status_code == 400
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.UNPAID


def test_a_money_entry_is_not_reverted_and_the_page_offers_a_refund(staff_client, staff_admin):
    invoice = make_invoice(actor=staff_admin)
    payment = pay(invoice, actor=staff_admin)
    payment = payment if isinstance(payment, Transaction) else Transaction.objects.latest("pk")
    event = _latest_event(payment)
    found = revert.plan(label="billing.transaction", pgh_id=event.pgh_id)
    assert not found.revertible
    assert found.instead_url == reverse("billing:refund-create", args=[payment.pk])
    page = staff_client.get(_url("billing.transaction", event)).content.decode()
    assert "refund the payment" in page
    with pytest.raises(ValidationError) as refused:
        revert.revert_event(
            label="billing.transaction", pgh_id=event.pgh_id, actor=staff_admin, reason="undo"
        )
    assert refused.value.code == "not_revertible"


def test_money_rows_are_never_revertible(staff_admin):
    from core import extension_points
    from core.extension_points import Reverter

    for label in (
        "billing.transaction",
        "billing.creditentry",
        "billing.allocation",
        "affiliates.payout",
        "affiliates.commission",
    ):
        reverter = extension_points.get(Reverter, label)
        assert reverter is not None and reverter.revert is None, label


def test_a_secret_edit_is_refused_and_never_shown(staff_client, staff_admin):
    customer = ClientFactory()
    set_client_password(
        client=customer, password="A-long-enough-pass-42", actor=staff_admin, reason="asked"
    )
    event = _latest_event(customer)
    found = revert.plan(label="clients.client", pgh_id=event.pgh_id)
    assert not found.revertible
    assert "secret" in found.refusal
    page = staff_client.get(_url("clients.client", event)).content.decode()
    customer.refresh_from_db()
    assert customer.password not in page
    assert event.password not in page


def test_unknown_events_and_models_are_404_not_500(staff_client):
    assert staff_client.get("/audit/events/nope.nothing/1/revert/").status_code == 404
    assert staff_client.get("/audit/events/clients.client/999999999/revert/").status_code == 404
    assert staff_client.post("/audit/events/clients.client/999999999/revert/").status_code == 404


def test_a_creation_is_not_a_field_edit(staff_client, staff_admin):
    customer = ClientFactory()
    event = _latest_event(customer)
    page = staff_client.get(_url("clients.client", event))
    assert page.status_code == 200
    assert "created the record" in page.content.decode()


def test_the_entry_page_costs_the_same_queries_with_reverts(staff_client, staff_admin):
    def queries(context_id):
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(reverse("audit:entry", args=[context_id])).status_code == 200
        return len(captured)

    single = ClientFactory(email="a@example.com", status="active")
    edit = _edit_email(staff_admin, single, email="b@example.com")
    # One request, two service calls: an entry of two sections.
    pair = ClientFactory.create_batch(2, status="active")
    staff_client.post(
        reverse("admin:clients_client_changelist"),
        {"action": "mark_inactive", "_selected_action": [c.pk for c in pair], "audit_reason": "r"},
    )
    bulk = [_latest_event(c) for c in pair]
    assert bulk[0].pgh_context_id != bulk[1].pgh_context_id
    queries(edit.pgh_context_id)  # warm caches
    one_plain = queries(edit.pgh_context_id)
    two_plain = queries(bulk[0].pgh_context_id)
    for event in (edit, *bulk):
        revert.revert_event(
            label="clients.client", pgh_id=event.pgh_id, actor=staff_admin, reason="undo"
        )
    assert len(revert.reverted_by([e.pgh_context_id for e in bulk])) == 2
    assert queries(edit.pgh_context_id) == one_plain
    assert queries(bulk[0].pgh_context_id) == two_plain == one_plain
    assert Context.objects.filter(metadata__reverts=str(edit.pgh_context_id)).count() == 1
