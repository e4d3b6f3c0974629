"""Background work of the affiliates app: the daily clearing (``manage.py clear_commissions``)."""

from __future__ import annotations

from affiliates import services
from jobs.queue import command_task


@command_task(name="affiliates.clear_commissions", command="clear_commissions", cron="10 0 * * *")
def clear_commissions_task() -> int:
    """Daily: clear the pending commissions whose clearing date has come."""
    return services.clear_due_commissions(today=None)
