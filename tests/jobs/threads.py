"""Helpers for the queue tests."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable


def outside_any_event_loop(run: Callable[[], object]) -> None:
    """Run ``run`` in a thread of its own: ``run_worker`` starts an asyncio loop, which fails in
    a thread where one is already running (Playwright's sync API leaves one in the browser
    tests' worker process). The thread runs in a copy of the caller's context variables (the
    audit context among them), as the call would have run in place."""
    errors: list[BaseException] = []
    here = contextvars.copy_context()

    def target() -> None:
        try:
            here.run(run)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
