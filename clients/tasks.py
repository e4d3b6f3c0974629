"""Background work of the clients app: the outbox (``manage.py send_queued_emails``)."""

from __future__ import annotations

from clients.outbox import send_queued_emails
from jobs.queue import command_task


@command_task(name="clients.send_queued_emails", command="send_queued_emails", cron="* * * * *")
def send_queued_emails_task() -> dict[str, int]:
    """Every minute: send the queued emails that are due (their invoice PDFs rendered here)."""
    return dict(send_queued_emails())
