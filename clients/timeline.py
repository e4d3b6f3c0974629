"""One timeline per client: notes, communications, tickets and replies, orders, invoices,
payments, emails and audit entries, newest first.

Each app registers a ``TimelineSource`` (``core/extension_points.py``: a queryset of the
client's rows that the user may see, the time column, how to load a page of them). A page is
one ``UNION ALL`` of the sources, every branch already ordered and limited by its
``(client, time)`` index, then one query per kind present on the page to load the rows: the
query count depends on the number of kinds, never on the number of entries.
Pages follow a keyset cursor (time, kind, id), so the 200th page costs what the first does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet, Value
from django.db.models.fields import CharField

from core import cursor as keyset
from core.extension_points import TimelineSource, visible

PAGE_SIZE = 30


def sources_for(user: Any) -> list[TimelineSource]:
    return visible(TimelineSource, user)


@dataclass
class Entry:
    kind: str
    pk: int
    at: dt.datetime
    obj: Any
    source: TimelineSource

    @property
    def template(self) -> str:
        return self.source.template

    @property
    def cursor(self) -> str:
        return encode_cursor(self.at, self.kind, self.pk)


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str | None


def encode_cursor(at: dt.datetime, kind: str, pk: int) -> str:
    return keyset.encode(at, kind, pk)


def decode_cursor(raw: str) -> tuple[dt.datetime, str, int] | None:
    return keyset.decode(raw)


def _branch(source: TimelineSource, client: Any, user: Any, after: Any, limit: int) -> QuerySet:
    rows = source.rows(client=client, user=user)
    time = source.time_field
    if after is not None:
        # Entries are ordered by (time, kind, id), all descending.
        rows = rows.filter(keyset.after_q(source.kind, after, time))
    return (
        rows.annotate(t_kind=Value(source.kind, output_field=CharField()), t_at=F(time))
        .values_list("t_kind", "pk", "t_at")
        .order_by(f"-{time}", "-pk")[:limit]
    )


def timeline_page(
    *,
    client: Any,
    user: Any,
    kinds: Iterable[str] = (),
    cursor: str | None = None,
    per_page: int = PAGE_SIZE,
) -> TimelinePage:
    sources = sources_for(user)
    wanted = set(kinds)
    if wanted:
        sources = [s for s in sources if s.kind in wanted]
    if not sources:
        return TimelinePage(entries=[], next_cursor=None)
    after = decode_cursor(cursor) if cursor else None
    limit = per_page + 1
    branches = [_branch(s, client, user, after, limit) for s in sources]
    union = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    if len(branches) > 1:
        union = union.order_by("-t_at", "-t_kind", "-pk")[:limit]
    located = list(union)
    has_more = len(located) > per_page
    located = located[:per_page]

    by_kind = {s.kind: s for s in sources}
    ids: dict[str, list[int]] = {}
    for kind, pk, _at in located:
        ids.setdefault(kind, []).append(pk)
    loaded = {kind: by_kind[kind].load(pks) for kind, pks in ids.items()}
    entries = [
        Entry(kind=kind, pk=pk, at=at, obj=loaded[kind][pk], source=by_kind[kind])
        for kind, pk, at in located
        if pk in loaded[kind]
    ]
    next_cursor = entries[-1].cursor if has_more and entries else None
    return TimelinePage(entries=entries, next_cursor=next_cursor)


def in_bulk(queryset: QuerySet) -> Callable[[list[int]], dict[int, Any]]:
    """A ``load`` function: the rows with these ids, from ``queryset`` (with its joins)."""
    return lambda pks: queryset.in_bulk(pks)
