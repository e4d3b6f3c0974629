"""Background work of the orders app: the daily cancellations
(``manage.py process_cancellations``)."""

from __future__ import annotations

from jobs.queue import command_task
from orders.services import process_due_cancellations


@command_task(
    name="orders.process_cancellations", command="process_cancellations", cron="20 0 * * *"
)
def process_cancellations_task() -> int:
    """Daily: carry out the end-of-period cancellations that are due."""
    return len(process_due_cancellations(today=None))
