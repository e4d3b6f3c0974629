"""The context that travels with every write: who, from where, through which channel, and why.

Every event row of the trail points at one context row (pghistory's ``pghistory_context``). The
database trigger that writes the event reads the context from two transaction-local settings,
``pghistory.context_id`` and ``pghistory.context_metadata``, which this module sets in front of
each write statement.

Contexts form a stack, one frame per layer that knows something:

- the **root** frame is the request (``AuditMiddleware``) or the command run
  (``command_context``): user, IP, user agent, request id, channel;
- every **service call** pushes a frame of its own (``with audit.context.context(action=...,
  reason=..., actor=...)``): the root's metadata plus that call's action, reason and actor.

The innermost frame names the events written while it is open; when it closes, the outer frame
(an outer service call, or the request) names the next ones again. Each frame is its own context
row, so an order accepted with its invoice published and emailed reads as three sections —
``orders.accept_order``, ``billing.publish_invoice``, ``billing.email_invoice`` — each with its
own reason, all sharing the request id that groups them on one entry page.

A frame's metadata never changes once written: changing anything (the user logging in halfway
through a request) opens a fresh context id. So a context row is written once, by one
transaction, and the database can refuse every later change (``audit`` migration 0005).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import psycopg.pq
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

# The one check for the why; it lives with the other shared rules.
from core.rules import require_reason  # noqa: F401 - re-exported

WEB = "web"
ADMIN = "admin"
COMMAND = "command"
OTHER = "other"
CHANNELS = (WEB, ADMIN, COMMAND, OTHER)

# Keys that belong to one service call and never leak into the calls it makes.
CALL_KEYS = ("action", "reason", "within")
# The reason code of an entry (``audit.reasons``) and the money it moves: set by the page on a
# frame of its own (no action) around the service call, they name that call only, not the
# calls it makes in turn (each entry is counted once, under its own action).
REASON_KEYS = ("reason_code", "amount", "currency")


@dataclass(frozen=True)
class Frame:
    id: uuid.UUID
    metadata: dict[str, Any]
    root: bool
    serialized: str = field(default="", compare=False)
    # One context row per frame *and transaction*: a frame that writes in several transactions
    # (a request's autocommit writes, a long command) gets a fresh id in each, so every context
    # row shares ``created_at`` with its events and is written by one transaction only.
    ids: dict[int, uuid.UUID] = field(default_factory=dict, compare=False)

    def id_for(self, transaction_number: int) -> uuid.UUID:
        if not self.ids:
            self.ids[transaction_number] = self.id
        elif transaction_number not in self.ids:
            self.ids.clear()  # transactions only move forward
            self.ids[transaction_number] = uuid.uuid4()
        return self.ids[transaction_number]

    @classmethod
    def make(cls, metadata: dict[str, Any], *, root: bool) -> Frame:
        clean = {k: v for k, v in metadata.items() if v not in (None, "")}
        return cls(
            id=uuid.uuid4(),
            metadata=clean,
            root=root,
            serialized=json.dumps(clean, cls=DjangoJSONEncoder, sort_keys=True),
        )


_frames: ContextVar[tuple[Frame, ...]] = ContextVar("audit_frames", default=())

# Statements that never write a tracked row: no context in front of them. Savepoints are
# skipped too (Django opens one per nested atomic block; half of a form save's statements).
_SKIPPED_PREFIXES = (
    "select",
    "savepoint",
    "release",
    "rollback",
    "commit",
    "begin",
    "start",
    "set transaction",
    "set session",
    "show",
    "vacuum",
    "analyze",
    "checkpoint",
    "discard",
    "load",
    "cluster",
    "reindex",
    "create",
    "alter",
    "drop",
    "explain",
)


def current() -> Frame | None:
    frames = _frames.get()
    return frames[-1] if frames else None


def current_metadata() -> dict[str, Any]:
    frame = current()
    return dict(frame.metadata) if frame is not None else {}


def _statement_start(sql: str) -> str:
    """The first words of the statement, past leading blank lines and ``--`` comments."""
    text = sql.lstrip()
    while text.startswith("--"):
        text = text.split("\n", 1)[1].lstrip() if "\n" in text else ""
    return text[:16].lower()


def _injectable(cursor: Any, sql: str) -> bool:
    if _statement_start(sql).startswith(_SKIPPED_PREFIXES):
        return False
    if getattr(cursor, "name", None):  # named (server-side) cursors only read
        return False
    status = cursor.connection.info.transaction_status
    return status != psycopg.pq.TransactionStatus.INERROR


def _transaction_number(context: dict[str, Any]) -> int:
    """A number that changes with each database transaction of the connection."""
    wrapper = context["connection"]
    number = getattr(wrapper, "_audit_transaction", 0)
    if context["cursor"].connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        number += 1  # no transaction open: this statement starts one
        wrapper._audit_transaction = number
    return number


def _inject(execute: Any, sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
    frame = current()
    if frame is None:
        return execute(sql, params, many, context)
    # Counted on every statement, reads included: a transaction that opens with a SELECT
    # (select_for_update) and writes later is still a new one.
    transaction_number = _transaction_number(context)
    is_bytes = isinstance(sql, bytes)
    text = sql.decode() if is_bytes else sql
    if not _injectable(context["cursor"], text or ""):
        return execute(sql, params, many, context)
    context_id = str(frame.id_for(transaction_number))
    if many:
        # executemany: one parameter set per row, so the context goes first, on its own, in the
        # same transaction (the settings last until its end).
        wrapper = context["connection"]
        with transaction.atomic(using=wrapper.alias), context["cursor"].connection.cursor() as raw:
            raw.execute(
                "SELECT set_config('pghistory.context_id', %s, true), "
                "set_config('pghistory.context_metadata', %s, true)",
                (context_id, frame.serialized),
            )
            return execute(sql, params, many, context)
    if params is None:
        # The statement was sent without parameters, so its "%" are literal; with ours added,
        # psycopg reads them as placeholders unless doubled.
        text = text.replace("%", "%%")
    if isinstance(params, dict):
        params = {
            **params,
            "audit__context_id": context_id,
            "audit__context_metadata": frame.serialized,
        }
        prefix = (
            "SELECT set_config('pghistory.context_id', %(audit__context_id)s, true), "
            "set_config('pghistory.context_metadata', %(audit__context_metadata)s, true); "
        )
    else:
        params = (context_id, frame.serialized, *(params or ()))
        prefix = (
            "SELECT set_config('pghistory.context_id', %s, true), "
            "set_config('pghistory.context_metadata', %s, true); "
        )
    text = prefix + text
    result = execute(text.encode() if is_bytes else text, params, many, context)
    # psycopg 3 leaves the cursor on the first result (the set_config row): move to the last.
    while result is not None and result.nextset():
        pass
    return result


@contextlib.contextmanager
def _pushed(frame: Frame) -> Iterator[Frame]:
    frames = _frames.get()
    wrapper = None
    if not frames:
        wrapper = connection.execute_wrapper(_inject)
        wrapper.__enter__()
    token = _frames.set((*frames, frame))
    try:
        yield frame
    finally:
        _frames.reset(token)
        if wrapper is not None:
            wrapper.__exit__(None, None, None)


@contextlib.contextmanager
def _restored(frames: tuple[Frame, ...]) -> Iterator[None]:
    wrapper = None
    if frames and not _frames.get():
        wrapper = connection.execute_wrapper(_inject)
        wrapper.__enter__()
    token = _frames.set(frames)
    try:
        yield
    finally:
        _frames.reset(token)
        if wrapper is not None:
            wrapper.__exit__(None, None, None)


def on_commit(callback: Any, *, using: str | None = None) -> None:
    """``transaction.on_commit``, with the callback run under the frames open when it was
    registered: what it writes (an email marked sent) is filed under the service call that
    asked for it, not under whatever frame happens to be open at commit."""
    frames = _frames.get()

    def run() -> None:
        with _restored(frames):
            callback()

    transaction.on_commit(run, using=using)


def root(**metadata: Any) -> contextlib.AbstractContextManager[Frame]:
    """Open the context of a request or command run (``request_id`` groups its entries)."""
    metadata.setdefault("request_id", uuid.uuid4().hex)
    return _pushed(Frame.make(metadata, root=True))


def _actor_metadata(actor: Any) -> dict[str, Any]:
    if actor is not None and getattr(actor, "is_authenticated", False) and actor.pk:
        return {"user": actor.pk, "username": actor.get_username()}
    return {}


def context(
    *, action: str = "", reason: str = "", actor: Any = None, **metadata: Any
) -> contextlib.AbstractContextManager[Frame]:
    """The frame of one service call: its action, its reason and its actor.

    Services write ``with audit.context.context(action="clients.create_client", reason=reason,
    actor=actor):`` around their writes. The frame inherits who/where from the request or
    command; the action and reason are this call's alone (an inner call without a reason
    records none, rather than its caller's). Outside any request or command, the call opens
    its own root.
    """
    outer = current()
    inherited = outer.metadata if outer else {}
    dropped = CALL_KEYS + (REASON_KEYS if inherited.get("action") else ())
    base = {k: v for k, v in inherited.items() if k not in dropped}
    # The service call this one is made within: the nearest frame with an action (a page's
    # reason-code frame in between has none).
    enclosing = next((f for f in reversed(_frames.get()) if f.metadata.get("action")), None)
    if outer is None:
        base["request_id"] = uuid.uuid4().hex
        base["channel"] = OTHER
    elif enclosing is not None:
        base["within"] = enclosing.metadata["action"]
    values = {
        **base,
        **_actor_metadata(actor),
        "action": action,
        "reason": (reason or "").strip(),
        **metadata,
    }
    return _pushed(Frame.make(values, root=False))


def set_actor(user: Any) -> None:
    """The request's user became known (a login): later writes of the request carry it.

    The open frames are replaced by copies with a fresh context id, so the context rows already
    written keep the metadata they were written with.
    """
    extra = _actor_metadata(user)
    frames = _frames.get()
    if not frames or not extra:
        return
    _frames.set(tuple(Frame.make({**f.metadata, **extra}, root=f.root) for f in frames))


def command_context(name: str) -> contextlib.AbstractContextManager[Frame]:
    """The context of a management command run: channel ``command`` and the OS user."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        os_user = str(os.getuid())
    return root(
        channel=COMMAND,
        command=name,
        os_user=os_user,
        host=socket.gethostname(),
    )
