"""The task queue: procrastinate, on the application's own PostgreSQL database.

Each app declares its background work in ``<app>/tasks.py`` with ``command_task`` (periodic) or
``audited_task`` (deferred by the code, e.g. one email's delivery): the task is the same
function its management command calls, run by a worker (``manage.py procrastinate worker``;
``make run`` starts one beside the development server).

- **The audit trail.** A job writes exactly what its command writes: each run opens the
  command's context (``audit.context.command_context``: channel ``command``, the command's name,
  the OS user and host), and the services it calls push their own frames as usual.
- **Several workers.** A periodic job is deferred once per tick whichever worker sees it first
  (procrastinate's ``procrastinate_periodic_defers``), and the ``lock`` runs a task's jobs one
  at a time across every worker. The work itself is idempotent besides (the outbox's claim, the
  sealer's advisory lock, the status checks of clearing and cancellations), as the commands
  already are: a job that finds its work done by the previous one does nothing. No
  ``queueing_lock``: a failed job going back to the queue for its retry would collide with the
  next tick's job already waiting, and procrastinate would refuse the retry (leaving the job
  "doing"; ``tests/jobs/test_tasks.py`` runs into it without this).
- **Failures.** A job that raises is retried (``RETRY``: three attempts, 30 s then 90 s
  apart) and, when the last attempt fails, stays ``failed`` in the job list of the Django admin
  (``jobs/admin.py``: Admins only, read-only), with its events.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

import audit.context
from audit.context import command_context

__all__ = ["RETRY", "app", "audited_task", "command_task"]

logger = logging.getLogger(__name__)

# Retries after a failure (three attempts in all), and the waits before them: 30 s, then 90 s.
RETRY = RetryStrategy(max_attempts=2, wait=30, linear_wait=60)

F = TypeVar("F", bound=Callable[..., Any])


def _refuse_an_inherited_context(name: str) -> None:
    """A worker thread must start a job with no audit frame open.

    The worker runs each sync job in a thread that inherits the worker's context variables.
    Had the worker itself been started inside a root (``manage.py`` wraps every command but
    the ones in its ``UNWRAPPED``), the job's frames would sit on that root and the capture
    would be wired to the worker's connection, not the thread's: the job's writes would be
    unattributed. Fail the job loudly instead (it shows as failed in the admin).
    """
    if audit.context.current() is not None and threading.current_thread() is not (
        threading.main_thread()
    ):
        raise RuntimeError(
            f"{name}: the worker was started inside an audit context; its jobs' writes would "
            "be unattributed (manage.py must leave `procrastinate` in UNWRAPPED)."
        )


def audited_task(
    *, name: str, command: str, retry: RetryStrategy = RETRY, lock: str | None = None
) -> Callable[[F], Any]:
    """A task whose job writes under ``command``'s audit context: ``@audited_task(name=...,
    command=...)`` over the function the command calls (its keyword arguments are the job's)."""

    def decorate(func: F) -> Any:
        @functools.wraps(func)
        def run(**kwargs: Any) -> Any:
            _refuse_an_inherited_context(name)
            # Django's connections are looked after around each job by procrastinate's Django
            # app (``close_old_connections`` before and after, as around a request).
            with command_context(command):
                result = func(**kwargs)
            logger.info("%s: %s", name, result)
            return result

        return app.task(name=name, retry=retry, lock=lock)(run)

    return decorate


def command_task(
    *,
    name: str,
    command: str,
    cron: str,
    retry: RetryStrategy = RETRY,
) -> Callable[[F], Any]:
    """A periodic task running ``command``'s work: ``@command_task(name=..., command=...,
    cron="*/5 * * * *")`` over a function of no arguments.

    ``name`` is the task's name in the queue (and its lock: one job at a time); ``command`` is
    the management command whose audit context the job writes under.
    """

    def decorate(func: F) -> Any:
        def tick(timestamp: int | None = None) -> Any:  # procrastinate passes the tick's time
            return func()

        functools.update_wrapper(tick, func)
        task = audited_task(name=name, command=command, retry=retry, lock=name)(tick)
        return app.periodic(cron=cron, periodic_id=name)(task)

    return decorate
