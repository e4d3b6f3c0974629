"""Reads that may go to a replica (``DATABASE_REPLICA_URL``), and everything else that may not.

The rule, from the safest end: every write goes to the primary (``default``), and so does
every read unless the request was *allowed* replica reads and has not written. Concretely a
read goes to ``replica`` only when all of these hold:

- a replica is configured (the ``replica`` alias exists);
- the request is one of ``REPLICA_READ_VIEWS`` (list and report pages that can show data a
  second old: ``ReplicaReadsMiddleware`` sets the flag), or code runs inside ``replica_reads()``;
- nothing has written on the primary since the flag was set (an execute wrapper on the primary
  connection clears it at the first statement that is not a ``SELECT``: the rest of the
  request reads the primary);
- the primary is not inside a transaction (``atomic``): a service's reads see its own writes
  and its locks;
- the browser did not write within the last ``DATABASE_REPLICA_PIN_SECONDS``: a request that
  wrote sets a short cookie, so the page it redirects to (POST → redirect → list) sees the write;
- the model is not one of Django's own (sessions, users, permissions, content types): logging
  in and permission checks always read the primary.

The audit context lives on the primary connection (``audit.context``) and the replica never
takes a write (its connection is read-only), so the trail cannot be split between the two.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.http import HttpRequest, HttpResponse

PRIMARY = "default"
REPLICA = "replica"
PIN_COOKIE = "whmcs_primary_until"
# Django's own tables: the login, the session and the permissions are read from the primary.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "contenttypes", "admin"})


@dataclass
class ReadState:
    replica_ok: bool = False
    wrote: bool = False


_state: ContextVar[ReadState | None] = ContextVar("replica_reads", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _is_read(sql: str) -> bool:
    # Only a plain SELECT counts as a read; anything else (INSERT, UPDATE, DELETE, a WITH that
    # might write, SAVEPOINT, SET) is taken for a write. Wrong only in the safe direction.
    return sql.lstrip().lstrip("(").lstrip()[:6].upper() == "SELECT"


def _note_writes(state: ReadState) -> Callable[..., Any]:
    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not state.wrote and not _is_read(sql):
            state.wrote = True
        return execute(sql, params, many, context)

    return wrapper


@contextlib.contextmanager
def tracking_writes() -> Iterator[ReadState]:
    """Scope of one request (or job): notes whether it wrote on the primary."""
    state = ReadState()
    token = _state.set(state)
    try:
        with connections[PRIMARY].execute_wrapper(_note_writes(state)):
            yield state
    finally:
        _state.reset(token)


@contextlib.contextmanager
def replica_reads() -> Iterator[ReadState]:
    """Reads in this block may go to the replica, until something writes."""
    outer = _state.get()
    if outer is None:
        with tracking_writes() as state:
            state.replica_ok = True
            yield state
        return
    previous, outer.replica_ok = outer.replica_ok, True
    try:
        yield outer
    finally:
        outer.replica_ok = previous


def may_read_replica() -> bool:
    state = _state.get()
    return (
        state is not None
        and state.replica_ok
        and not state.wrote
        and replica_configured()
        and not connections[PRIMARY].in_atomic_block
    )


def alias_for_reads() -> str:
    """The alias for a raw-SQL read (``connections[alias_for_reads()]``) under the same rule as
    the router's: the ORM asks the router, a ``connection.cursor()`` always uses the primary."""
    return REPLICA if may_read_replica() else PRIMARY


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry: see the module's text for when a read goes to the replica."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str:
        if model._meta.app_label not in PRIMARY_ONLY_APPS and may_read_replica():
            return REPLICA
        return PRIMARY

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Both aliases hold the same rows.
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


class ReplicaReadsMiddleware:
    """Scopes each request's reads (``tracking_writes``), allows replica reads for the views
    named in ``REPLICA_READ_VIEWS`` and pins a browser that wrote to the primary for a while."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.views = frozenset(settings.REPLICA_READ_VIEWS)
        self.pin_seconds = settings.DATABASE_REPLICA_PIN_SECONDS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with tracking_writes() as state:
            request.replica_reads = state  # type: ignore[attr-defined]  # this middleware's own attribute
            response = self.get_response(request)
        if state.wrote and self.pin_seconds > 0:
            response.set_cookie(
                PIN_COOKIE,
                str(int(time.time()) + self.pin_seconds),
                max_age=self.pin_seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def _pinned(self, request: HttpRequest) -> bool:
        # The cookie can only send a browser's reads to the primary, so it need not be signed.
        try:
            return int(request.COOKIES.get(PIN_COOKIE, "0")) > time.time()
        except ValueError:
            return True

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        match = request.resolver_match
        if match is None or match.view_name not in self.views or self._pinned(request):
            return None
        request.replica_reads.replica_ok = True  # type: ignore[attr-defined]  # set in __call__
        return None
