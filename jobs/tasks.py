"""Background work of the audit trail: sealing every 5 minutes (``manage.py audit_seal``),
the daily verification (``manage.py audit_verify``) and archiving (``manage.py audit_archive``).
Declared here, by the queue, rather than in ``audit``: the queue builds on the audit context, so
audit never imports it."""

from __future__ import annotations

from django.db import DatabaseError
from procrastinate import RetryStrategy

from audit import archive, seal
from jobs.queue import RETRY, command_task


class TrailProblems(RuntimeError):
    """The verification found problems: the job fails, and stays failed for Admins to see."""


@command_task(name="audit.seal", command="audit_seal", cron="*/5 * * * *")
def seal_task() -> int:
    """Every 5 minutes: seal the audit rows older than the horizon; returns the rows sealed."""
    return seal.seal_pending().rows


@command_task(
    name="audit.verify",
    command="audit_verify",
    cron="0 3 * * *",
    # Problems found are not retried (a second run finds them again): only a lost connection.
    retry=RetryStrategy(
        max_attempts=RETRY.max_attempts,
        wait=RETRY.wait,
        linear_wait=RETRY.linear_wait,
        retry_exceptions=[DatabaseError, OSError],
    ),
)
def verify_task() -> int:
    """Daily: recompute the chain of seals, as ``manage.py audit_verify`` does; fails on any
    finding (recorded, and shown on the trail's pages as by the command)."""
    result = seal.verify()
    if not result.record.ok:
        raise TrailProblems(
            f"{result.record.problems:,} problem(s) found: see audit verification "
            f"#{result.record.pk}."
        )
    return result.record.seals_checked


@command_task(name="audit.archive", command="audit_archive", cron="30 3 * * *")
def archive_task() -> int:
    """Daily, after the verification: move whole sealed months older than
    ``AUDIT_ARCHIVE_AFTER_DAYS`` into the archive; returns the events moved."""
    return archive.archive_sealed().rows
