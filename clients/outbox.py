"""The email log is the outbox: every email leaves the app through here, after the commit.

Inside its transaction a service calls ``queue_email``: one ``EmailLog`` row holding what to
send (the text already rendered, the sender, and *references* to attachments such as "the PDF
of invoice 42"). Nothing slow or remote happens there, so no lock waits behind WeasyPrint or an
SMTP server.

After the commit, ``deliver_email`` makes the first attempt at once (through
``audit.context.on_commit``, so the trail files it under the service that asked), or, with
``OUTBOX_AFTER_COMMIT=queue``, a worker makes it (``clients.tasks``, filed under the command).
Each attempt claims the row, then renders the attachments and talks to the mail server *outside any
transaction*, then records the outcome on the row in a short transaction of its own:

- sent: ``status=sent``, ``sent_at``;
- a transient failure (the server down, a 4xx reply): still queued, ``attempts`` counted, the
  error kept, ``next_attempt_at`` pushed back exponentially (``retry_delay``);
- a permanent failure (a 5xx reply, an attachment that cannot be rendered) or the last allowed
  attempt: ``status=failed``.

``manage.py send_queued_emails`` and its periodic task (every minute, ``clients/tasks.py``) send
what is due.

Exactly once, as far as SMTP allows: the claim is one conditional UPDATE (queued, due) that also
moves ``next_attempt_at`` a lease ahead, so two senders (the after-commit attempt and the
command, or two commands) never both send a row. A process that dies between the mail server
accepting the message and the outcome being written leaves the row queued; it is sent again
once the lease has passed (at least once, never lost).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import audit.context
from clients.models import Client, EmailLog
from core import extension_points
from core.extension_points import EmailAttachmentSource, EmailBodySource

logger = logging.getLogger(__name__)

ACTION = "clients.deliver_email"
# Back-off after a transient failure: 2, 4, 8 … minutes, at most 6 hours apart; the tenth
# failed attempt (about 14 hours of trying) gives up.
RETRY_BASE = dt.timedelta(minutes=2)
RETRY_CAP = dt.timedelta(hours=6)
MAX_ATTEMPTS = 10
# How long a claimed row is left alone by other senders: longer than any one delivery takes.
SENDING_LEASE = dt.timedelta(minutes=15)


class Attachment(NamedTuple):
    """A file rendered at delivery: ``source`` names the ``EmailAttachmentSource`` (registered
    by the app that owns the data: billing's invoice PDFs, support's ticket files) that renders
    ``object_id``."""

    source: str
    object_id: int
    name: str


def _renderer(kind: type[EmailAttachmentSource] | type[EmailBodySource], key: str) -> Callable:
    source = extension_points.get(kind, key)
    if source is None:  # no app renders it: a permanent failure, recorded on the row
        raise KeyError(key)
    return source.render


@transaction.atomic
def queue_email(
    *,
    client: Client | None,
    kind: str,
    to: Sequence[str],
    subject: str,
    body: str,
    actor: User | None,
    body_source: str = "",
    attachments: Sequence[Attachment] = (),
    from_email: str = "",
) -> EmailLog:
    """Record an email in the log (the outbox) and try to send it once the transaction commits.

    ``client`` is None for someone who is not a client (a ticket's requester or CC).
    ``body_source`` names a registered renderer that writes the body sent at delivery (``body``
    is then what the log shows, the secret masked). ``attachments`` are rendered at delivery.
    ``from_email`` replaces ``DEFAULT_FROM_EMAIL`` (a support department's address).
    """
    log = EmailLog(
        client=client,
        kind=kind,
        to=", ".join(to),
        from_email=from_email,
        subject=subject,
        body=body,
        body_source=body_source,
        attachments=", ".join(a.name for a in attachments),
        attachment_sources=[list(a) for a in attachments],
        triggered_by=actor if actor is not None and actor.pk else None,
        next_attempt_at=timezone.now(),
    )
    log.full_clean()
    log.save()
    log_id = log.pk
    audit.context.on_commit(lambda: _after_commit(log_id))
    return log


def _after_commit(log_id: int) -> None:
    """The first attempt: here and now, or by a worker (``OUTBOX_AFTER_COMMIT=queue``)."""
    if settings.OUTBOX_AFTER_COMMIT != "queue":
        deliver_email(log_id=log_id)
        return
    from clients.tasks import deliver_email_task

    try:
        deliver_email_task.defer(log_id=log_id)
    except Exception:  # after the commit: never an error page; the periodic task sends it
        logger.exception("Email %s not handed to the queue; the outbox task will send it", log_id)


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def is_transient(exc: BaseException) -> bool:
    """Worth another try later: the server unreachable or a 4xx reply; not a 5xx refusal."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _message in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPException, OSError))


def _message(log: EmailLog) -> EmailMessage:
    body = _renderer(EmailBodySource, log.body_source)(log) if log.body_source else log.body
    files = []
    for source, object_id, name in log.attachment_sources:
        content, mime = _renderer(EmailAttachmentSource, source)(object_id)
        files.append((name, content, mime))
    return EmailMessage(
        subject=log.subject,
        body=body,
        from_email=log.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[a.strip() for a in log.to.split(",") if a.strip()],
        attachments=files,
    )


def _claim(log_id: int) -> bool:
    now = timezone.now()
    with transaction.atomic(), audit.context.context(action=ACTION):
        claimed = (
            EmailLog.objects.due(now)
            .filter(pk=log_id)
            .update(attempts=F("attempts") + 1, next_attempt_at=now + SENDING_LEASE)
        )
    return claimed == 1


def deliver_email(*, log_id: int) -> str:
    """One delivery attempt of a queued email; returns the status it is left in.

    Returns "" when the email is not due (already sent, given up, or being sent by another
    process). Never raises for a delivery problem: it runs after a commit, where an exception
    would turn a saved form into an error page.
    """
    if not _claim(log_id):
        return ""
    log = EmailLog.objects.get(pk=log_id)
    # Rendering and SMTP happen here, outside any transaction: no row is locked while they run.
    try:
        _message(log).send()
    except Exception as exc:  # any failure is recorded on the row: see the docstring
        transient = is_transient(exc)
        if not transient:
            logger.exception("Email %s failed for good", log_id)
        retry = transient and log.attempts < MAX_ATTEMPTS
        changes = {
            "status": EmailLog.Status.QUEUED if retry else EmailLog.Status.FAILED,
            "error": (f"{type(exc).__name__}: {exc}")[:500],
            "next_attempt_at": timezone.now() + retry_delay(log.attempts) if retry else None,
        }
    else:
        changes = {
            "status": EmailLog.Status.SENT,
            "sent_at": timezone.now(),
            "error": "",
            "next_attempt_at": None,
        }
    with transaction.atomic(), audit.context.context(action=ACTION):
        EmailLog.objects.filter(pk=log_id).update(**changes)
    return changes["status"]  # type: ignore[return-value]  # a status: the dict mixes kinds


def send_queued_emails(*, limit: int | None = None) -> Counter[str]:
    """Attempt every email that is due, oldest first; counts by the status each is left in."""
    due = EmailLog.objects.due().order_by("next_attempt_at", "id").values_list("pk", flat=True)
    outcomes: Counter[str] = Counter()
    for log_id in list(due[:limit] if limit else due):
        outcomes[deliver_email(log_id=log_id) or "skipped"] += 1
    return outcomes
