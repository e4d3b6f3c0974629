"""The email log is the outbox: recorded in the transaction, sent after it, retried when the
mail server is away, sent once."""

from __future__ import annotations

import datetime as dt
import io
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clients import outbox, services
from clients.models import Client, EmailLog, EmailLogEvent
from tests.factories.clients import ClientFactory, client_form_data

pytestmark = pytest.mark.django_db

LOCMEM_SEND = "django.core.mail.backends.locmem.EmailBackend.send_messages"


@pytest.fixture
def later(monkeypatch):
    """Move the clock forward: ``later(minutes=5)``."""

    def move(**delta: float) -> None:
        moved = timezone.now() + dt.timedelta(**delta)
        monkeypatch.setattr(timezone, "now", lambda: moved)

    return move


def _run_command() -> str:
    out = io.StringIO()
    call_command("send_queued_emails", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "down",
    [ConnectionRefusedError(111, "Connection refused"), smtplib.SMTPServerDisconnected("gone")],
    ids=["refused", "disconnected"],
)
def test_with_the_mail_server_down_a_save_succeeds_and_the_command_sends_it_once_later(
    down, staff_client, django_capture_on_commit_callbacks, later
):
    data = client_form_data(send_welcome="on")
    with (
        mock.patch(LOCMEM_SEND, side_effect=down),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = staff_client.post(reverse("clients:client-create"), data)
    assert response.status_code == 302
    customer = Client.objects.get()
    log = EmailLog.objects.get(client=customer)
    assert (log.status, log.attempts, log.sent_at) == (EmailLog.Status.QUEUED, 1, None)
    assert type(down).__name__ in log.error
    assert log.next_attempt_at > timezone.now()
    assert mail.outbox == []

    assert "0 sent" in _run_command()  # not due yet: the back-off holds it
    later(minutes=3)
    assert "1 sent" in _run_command()
    assert [m.to for m in mail.outbox] == [[customer.email]]
    log.refresh_from_db()
    assert (log.status, log.attempts, log.error) == (EmailLog.Status.SENT, 2, "")
    assert log.sent_at is not None and log.next_attempt_at is None

    later(days=2)
    assert "0 sent" in _run_command()
    assert len(mail.outbox) == 1


def test_the_commands_status_updates_are_filed_under_deliver_email_in_the_command(
    staff_admin, django_capture_on_commit_callbacks, later
):
    customer = ClientFactory()
    with (
        mock.patch(LOCMEM_SEND, side_effect=ConnectionRefusedError()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        log = services.send_welcome_email(client=customer, actor=staff_admin)
    later(minutes=3)
    _run_command()
    sent = EmailLogEvent.objects.filter(pgh_obj_id=log.pk, status="sent").select_related(
        "pgh_context"
    )
    metadata = sent.get().pgh_context.metadata
    assert metadata["action"] == "clients.deliver_email"
    assert metadata["channel"] == "command" and metadata["command"] == "send_queued_emails"


def test_the_immediate_attempt_is_filed_under_the_service_that_queued_it(
    staff_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    event = EmailLogEvent.objects.select_related("pgh_context").get(
        pgh_obj_id=log.pk, status="sent"
    )
    assert event.pgh_context.metadata["action"] == "clients.deliver_email"
    assert event.pgh_context.metadata["within"] == "clients.send_welcome_email"


def test_an_email_already_sent_after_commit_is_not_sent_again_by_the_command(
    staff_admin, django_capture_on_commit_callbacks, later
):
    with django_capture_on_commit_callbacks(execute=True):
        services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    later(hours=1)
    assert "0 sent" in _run_command()
    assert len(mail.outbox) == 1


def test_delivering_the_same_email_twice_sends_it_once(staff_admin):
    log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    assert outbox.deliver_email(log_id=log.pk) == EmailLog.Status.SENT
    assert outbox.deliver_email(log_id=log.pk) == ""
    assert len(mail.outbox) == 1


def test_an_email_being_sent_by_another_process_is_left_alone(staff_admin):
    log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    assert outbox._claim(log.pk)  # another sender holds it
    assert outbox.deliver_email(log_id=log.pk) == ""
    assert "0 sent" in _run_command()
    assert mail.outbox == []


def test_a_sender_that_died_mid_send_is_relieved_once_its_lease_passes(staff_admin, later):
    log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    assert outbox._claim(log.pk)  # claimed, then the process died
    later(minutes=outbox.SENDING_LEASE.total_seconds() / 60 + 1)
    assert "1 sent" in _run_command()
    assert len(mail.outbox) == 1


def test_retries_back_off_exponentially_up_to_a_cap():
    assert [outbox.retry_delay(n) for n in (1, 2, 3, 4)] == [
        dt.timedelta(minutes=m) for m in (2, 4, 8, 16)
    ]
    assert outbox.retry_delay(20) == outbox.RETRY_CAP


def test_a_transient_failure_waits_longer_each_time_and_gives_up_after_the_last_attempt(
    staff_admin, later
):
    log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    waits = []
    with mock.patch(LOCMEM_SEND, side_effect=smtplib.SMTPConnectError(421, "busy")):
        for _attempt in range(outbox.MAX_ATTEMPTS):
            before = timezone.now()
            _run_command()
            log.refresh_from_db()
            if log.status == EmailLog.Status.QUEUED:
                waits.append(log.next_attempt_at - before)
                later(seconds=(log.next_attempt_at - timezone.now()).total_seconds() + 1)
    assert (log.status, log.attempts) == (EmailLog.Status.FAILED, outbox.MAX_ATTEMPTS)
    assert log.next_attempt_at is None and "busy" in log.error
    assert len(waits) == outbox.MAX_ATTEMPTS - 1
    assert waits == sorted(waits) and waits[1] > waits[0]
    later(days=30)
    assert "0 sent" in _run_command()


def test_a_permanent_refusal_fails_at_once_without_retrying(staff_admin):
    log = services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    refused = smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"no such user")})
    with mock.patch(LOCMEM_SEND, side_effect=refused):
        assert outbox.deliver_email(log_id=log.pk) == EmailLog.Status.FAILED
    log.refresh_from_db()
    assert (log.status, log.attempts, log.next_attempt_at) == ("failed", 1, None)


def test_a_set_password_link_is_written_when_the_email_goes_out_and_never_stored(
    staff_admin, later
):
    customer = ClientFactory()
    with mock.patch(LOCMEM_SEND, side_effect=ConnectionRefusedError()):
        log = services.send_password_link(client=customer, actor=staff_admin)
        outbox.deliver_email(log_id=log.pk)
    later(minutes=3)
    _run_command()
    token = mail.outbox[0].body.split("/set-password/")[1].split("/")[0]
    assert services.client_for_set_password_token(token) == customer
    log.refresh_from_db()
    assert token not in log.body and token not in str(log.attachment_sources)
    assert not EmailLogEvent.objects.filter(body__contains=token).exists()


def test_publishing_with_email_renders_the_pdf_only_after_commit(
    staff_admin, django_capture_on_commit_callbacks
):
    from billing import services as billing_services
    from tests.factories.billing import make_invoice

    draft = make_invoice(ClientFactory(), publish=False)
    with mock.patch("billing.pdf.invoice_pdf", return_value=b"%PDF-1.7 fake") as render:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice = billing_services.publish_invoice(
                invoice=draft, actor=staff_admin, send_email=True
            )
        assert not render.called  # not in the publishing transaction, series locked
        assert EmailLog.objects.get(kind=EmailLog.Kind.INVOICE).attachments == (
            f"{invoice.number}.pdf"
        )
        for callback in callbacks:
            callback()
    render.assert_called_once()
    assert mail.outbox[0].attachments == [
        (f"{invoice.number}.pdf", b"%PDF-1.7 fake", "application/pdf")
    ]


@pytest.mark.django_db(transaction=True)
def test_the_invoice_pdf_and_the_smtp_call_run_outside_any_transaction(staff_admin):
    from billing import services as billing_services
    from tests.factories.billing import make_invoice

    seen = []

    def render(invoice):
        seen.append(("pdf", connection.in_atomic_block))
        return b"%PDF-1.7 fake"

    def send(self, messages):
        seen.append(("smtp", connection.in_atomic_block))
        return len(messages)

    draft = make_invoice(ClientFactory(), publish=False)
    with mock.patch("billing.pdf.invoice_pdf", render), mock.patch(LOCMEM_SEND, send):
        billing_services.publish_invoice(invoice=draft, actor=staff_admin, send_email=True)
    assert seen == [("pdf", False), ("smtp", False)]
    assert EmailLog.objects.get(kind=EmailLog.Kind.INVOICE).status == EmailLog.Status.SENT


def test_an_attachment_that_cannot_be_rendered_fails_the_email_not_the_request(
    staff_client, django_capture_on_commit_callbacks
):
    from tests.factories.billing import make_invoice

    invoice = make_invoice(ClientFactory())
    url = reverse("billing:invoice-email", args=[invoice.pk])
    with (
        mock.patch("billing.pdf.invoice_pdf", side_effect=RuntimeError("no Pango")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = staff_client.post(url, {})
    assert response.status_code == 302
    log = EmailLog.objects.get(kind=EmailLog.Kind.INVOICE)
    assert log.status == EmailLog.Status.FAILED and "no Pango" in log.error
    assert mail.outbox == []
