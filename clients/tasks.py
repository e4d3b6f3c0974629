"""Background work of the clients app: the outbox (``manage.py send_queued_emails``).

Every email is sent (its invoice PDF rendered) by ``clients.outbox.deliver_email``: the
periodic task attempts what is due every minute, as the command does; with
``OUTBOX_AFTER_COMMIT=queue`` each new email's first attempt is a job of its own too.
"""

from __future__ import annotations

from clients.outbox import deliver_email, send_queued_emails
from jobs.queue import audited_task, command_task


@command_task(name="clients.send_queued_emails", command="send_queued_emails", cron="* * * * *")
def send_queued_emails_task() -> dict[str, int]:
    """Every minute: send the queued emails that are due."""
    return dict(send_queued_emails())


@audited_task(name="clients.deliver_email", command="send_queued_emails")
def deliver_email_task(*, log_id: int) -> str:
    """One email's first attempt, after the commit that queued it (never twice: the claim)."""
    return deliver_email(log_id=log_id)
