"""The background work on the queue: each task runs its command's work under the command's audit
context, on its schedule, retried when it fails and then shown as failed to Admins."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from clients import services as client_services
from clients.models import EmailLog, EmailLogEvent
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from jobs.queue import RETRY
from tests.factories.clients import ClientFactory
from tests.jobs.threads import outside_any_event_loop

LOCMEM_SEND = "django.core.mail.backends.locmem.EmailBackend.send_messages"

# The schedules the README promises ("Running at scale").
SCHEDULES = {
    "clients.send_queued_emails": "* * * * *",
    "audit.seal": "*/5 * * * *",
    "audit.verify": "0 3 * * *",
    "audit.archive": "30 3 * * *",
    "affiliates.clear_commissions": "10 0 * * *",
    "orders.process_cancellations": "20 0 * * *",
    "approvals.expire": "*/15 * * * *",
    "review.scan": "* * * * *",
    "review.send_digest": "0 7 * * *",
}


def _periodic() -> dict[str, str]:
    return {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}


def test_every_command_of_the_timers_is_a_periodic_task_on_its_schedule():
    assert _periodic() == SCHEDULES


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_each_task_is_retried_and_runs_one_job_at_a_time(name):
    task = app.tasks[name]
    assert task.retry_strategy is not None and task.retry_strategy.max_attempts == 2
    # One job of a task at a time across every worker; no queueing lock (see jobs/queue.py).
    assert task.lock == name and task.queueing_lock is None


def _later(monkeypatch, **delta: float) -> None:
    moved = timezone.now() + dt.timedelta(**delta)
    monkeypatch.setattr(timezone, "now", lambda: moved)


@pytest.mark.django_db
def test_the_outbox_task_sends_what_is_due_under_the_commands_audit_context(
    staff_admin, django_capture_on_commit_callbacks, monkeypatch
):
    customer = ClientFactory()
    with (
        mock.patch(LOCMEM_SEND, side_effect=ConnectionRefusedError()),
        django_capture_on_commit_callbacks(execute=True),
    ):
        log = client_services.send_welcome_email(client=customer, actor=staff_admin)
    assert mail.outbox == []
    _later(monkeypatch, minutes=3)

    assert app.tasks["clients.send_queued_emails"]() == {"sent": 1}
    assert [m.to for m in mail.outbox] == [[customer.email]]
    sent = EmailLogEvent.objects.filter(pgh_obj_id=log.pk, status="sent").select_related(
        "pgh_context"
    )
    metadata = sent.get().pgh_context.metadata
    assert metadata["action"] == "clients.deliver_email"
    assert metadata["channel"] == "command" and metadata["command"] == "send_queued_emails"
    assert EmailLog.objects.get().status == EmailLog.Status.SENT


@pytest.mark.django_db
def test_with_outbox_after_commit_queue_a_worker_makes_the_first_attempt(
    staff_admin, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_AFTER_COMMIT = "queue"
    customer = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        log = client_services.send_welcome_email(client=customer, actor=staff_admin)
    assert mail.outbox == []  # nothing rendered nor sent in the request
    job = ProcrastinateJob.objects.get(task_name="clients.deliver_email")
    assert (job.status, job.args) == ("todo", {"log_id": log.pk})

    assert app.tasks["clients.deliver_email"](**job.args) == EmailLog.Status.SENT
    assert [m.to for m in mail.outbox] == [[customer.email]]
    sent = EmailLogEvent.objects.get(pgh_obj_id=log.pk, status="sent")
    assert sent.pgh_context.metadata["command"] == "send_queued_emails"
    assert app.tasks["clients.deliver_email"](**job.args) == ""  # never twice


@pytest.mark.django_db
def test_a_queue_that_cannot_take_the_email_does_not_fail_the_saved_form(
    staff_admin, django_capture_on_commit_callbacks, settings, caplog
):
    from clients.tasks import deliver_email_task

    settings.OUTBOX_AFTER_COMMIT = "queue"
    with (
        mock.patch.object(deliver_email_task, "defer", side_effect=RuntimeError("queue down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        log = client_services.send_welcome_email(client=ClientFactory(), actor=staff_admin)
    assert "the outbox task will send it" in caplog.text
    log.refresh_from_db()
    assert log.status == EmailLog.Status.QUEUED and log.next_attempt_at <= timezone.now()


@pytest.mark.django_db
def test_the_seal_task_seals_like_the_command():
    from audit.models import AuditSeal

    ClientFactory()
    rows = app.tasks["audit.seal"]()
    assert rows == 0  # nothing is older than the horizon yet: nothing sealed, as the command
    before = AuditSeal.objects.count()
    with mock.patch("django.conf.settings.AUDIT_SEAL_HORIZON_SECONDS", 0):
        rows = app.tasks["audit.seal"]()
    assert rows > 0 and AuditSeal.objects.count() > before


@pytest.mark.parametrize(
    ("name", "target", "command", "returned", "result"),
    [
        (
            "affiliates.clear_commissions",
            "affiliates.services.clear_due_commissions",
            "clear_commissions",
            4,
            4,
        ),
        (
            "orders.process_cancellations",
            "orders.tasks.process_due_cancellations",
            "process_cancellations",
            ["a", "b"],
            2,
        ),
    ],
)
def test_the_daily_tasks_call_their_commands_function_in_the_commands_context(
    name, target, command, returned, result
):
    from audit.context import current_metadata

    seen = {}

    def work(*, today):
        seen.update(current_metadata(), today=today)
        return returned

    with mock.patch(target, side_effect=work):
        assert app.tasks[name](timestamp=1_700_000_000) == result
    assert seen["channel"] == "command" and seen["command"] == command
    assert seen["today"] is None  # the command's default: today


@pytest.mark.django_db
def test_the_verify_task_fails_on_a_finding_and_is_not_retried_for_it():
    from audit import seal
    from jobs.tasks import TrailProblems

    assert app.tasks["audit.verify"]() >= 0
    record = mock.Mock(ok=False, problems=2, pk=7)
    with (
        mock.patch.object(seal, "verify", return_value=mock.Mock(record=record)),
        pytest.raises(TrailProblems, match="2 problem"),
    ):
        app.tasks["audit.verify"]()
    strategy = app.tasks["audit.verify"].retry_strategy
    assert TrailProblems not in tuple(strategy.retry_exceptions)


# A real worker on the test database ---------------------------------------------------------


@pytest.fixture
def worker(transactional_db):
    """Run the queued jobs with a real worker (its own connections, as in production); the
    queue's tables are emptied afterwards (they are not the harness's: unmanaged models)."""

    def work() -> None:
        with app.replace_connector(app.connector.get_worker_connector()):
            app.run_worker(
                wait=False, install_signal_handlers=False, listen_notify=False, concurrency=1
            )

    def run() -> None:
        outside_any_event_loop(work)

    yield run
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_periodic_defers")


def test_a_worker_runs_a_deferred_job_to_success(worker):
    job_id = app.tasks["audit.seal"].defer()
    worker()
    job = ProcrastinateJob.objects.get(pk=job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)


def test_a_failing_task_is_retried_then_left_failed_and_admins_see_it(
    worker, monkeypatch, client_as
):
    from audit import seal
    from core.roles import sync_roles

    sync_roles()  # the transactional harness emptied the role groups
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(seal, "seal_pending", broken)
    # The real waits (30 s, 90 s) without the waiting: the worker stops when nothing is due.
    task = app.tasks["audit.seal"]
    monkeypatch.setattr(task, "retry_strategy", RetryStrategy(max_attempts=RETRY.max_attempts))
    job_id = task.defer()
    worker()  # the worker's periodic deferrer may queue this minute's seal too: the same fate

    job = ProcrastinateJob.objects.get(pk=job_id)
    assert (job.status, job.attempts) == ("failed", 3)  # the first run and two retries
    assert len(calls) % 3 == 0 and calls

    admin_page = client_as(ADMIN).get(reverse("admin:procrastinate_procrastinatejob_changelist"))
    assert admin_page.status_code == 200
    assert b"Failed" in admin_page.content and b"seal" in admin_page.content
    detail = client_as(ADMIN).get(
        reverse("admin:procrastinate_procrastinatejob_change", args=[job.pk])
    )
    assert detail.status_code == 200 and b"Failed" in detail.content
    for role in (BILLING, SUPPORT, READ_ONLY):
        page = client_as(role).get(reverse("admin:procrastinate_procrastinatejob_changelist"))
        assert page.status_code == 403, role


def test_the_job_admin_is_read_only_and_has_no_actions(rf, staff_admin):
    from django.contrib import admin

    model_admin = admin.site._registry[ProcrastinateJob]
    request = rf.get("/admin/")
    request.user = staff_admin
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not [a for a in model_admin.get_actions(request) if a != "delete_selected"]


@pytest.mark.django_db
def test_the_queues_own_tables_are_infrastructure_not_audited():
    """Jobs are not manual entries: procrastinate's app is not one of ``TRACKED_APPS``, so its
    tables carry no capture trigger (what a job *does* is audited, under its command)."""
    from django.apps import apps

    from audit.tracking import TRACKED_APPS, event_model_for

    assert "procrastinate" not in TRACKED_APPS
    queue_models = list(apps.get_app_config("procrastinate").get_models())
    assert queue_models
    assert [m for m in queue_models if event_model_for(m) is not None] == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'pgtrigger%%' "
            "AND tgrelid::regclass::text LIKE 'procrastinate%%'"
        )
        assert cursor.fetchone()[0] == 0


def _queued_email(monkeypatch) -> EmailLog:
    from core.roles import sync_roles

    sync_roles()
    customer = ClientFactory()
    with mock.patch(LOCMEM_SEND, side_effect=ConnectionRefusedError()):
        log = client_services.send_welcome_email(client=customer, actor=None)
    _later(monkeypatch, minutes=3)
    return log


def test_a_jobs_writes_in_the_workers_thread_carry_the_commands_context(worker, monkeypatch):
    log = _queued_email(monkeypatch)
    app.tasks["clients.send_queued_emails"].defer()
    worker()
    sent = EmailLogEvent.objects.filter(pgh_obj_id=log.pk, status="sent").select_related(
        "pgh_context"
    )
    context = sent.get().pgh_context
    assert context is not None, "the job's write is unattributed"
    assert context.metadata["command"] == "send_queued_emails"


def test_a_worker_started_inside_an_audit_context_fails_its_jobs_rather_than_lose_the_trail(
    worker, monkeypatch
):
    """What ``manage.py`` would do to the worker without ``procrastinate`` in ``UNWRAPPED``."""
    import manage
    from audit.context import command_context

    assert "procrastinate" in manage.UNWRAPPED
    log = _queued_email(monkeypatch)
    task = app.tasks["clients.send_queued_emails"]
    monkeypatch.setattr(task, "retry_strategy", RetryStrategy(max_attempts=RETRY.max_attempts))
    job_id = task.defer()
    with command_context("procrastinate"):
        worker()
    assert ProcrastinateJob.objects.get(pk=job_id).status == "failed"
    assert not EmailLogEvent.objects.filter(pgh_obj_id=log.pk, status="sent").exists()
