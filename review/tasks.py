"""Background work of the review queue: reading the trail every minute (``manage.py
review_scan``) and the daily digest at 07:00 UTC (``manage.py send_review_digest``)."""

from __future__ import annotations

from jobs.queue import command_task
from review import services
from review.scan import scan_trail


@command_task(name="review.scan", command="review_scan", cron="* * * * *")
def scan_task() -> int:
    """Every minute: flag what the rules match in the trail written since the last scan."""
    return scan_trail().flagged


@command_task(name="review.send_digest", command="send_review_digest", cron="0 7 * * *")
def digest_task() -> int:
    """Daily: email the reviewers who asked for it what was flagged since the last digest."""
    return services.send_daily_digest()
