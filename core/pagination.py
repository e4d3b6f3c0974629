from __future__ import annotations

import contextlib
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import BigIntegerField, ExpressionWrapper, F, OrderBy, QuerySet

# Past this many matches a list says "more than 10,000" instead of counting every row.
COUNT_CAP = 10_000
# A deep page makes the count reach it, but no further than this (a page number past it is
# not found; a number past bigint would not even make a valid LIMIT).
COUNT_REACH = 1_000_000


class DeferredJoinPaginator(Paginator):
    """Numbered pages whose cost does not grow with the page number, nor with the table.

    ``OFFSET n`` over full rows makes PostgreSQL fetch and discard n heap rows. Here the offset
    runs over the primary keys only (an index-only scan on the ordering index), then the page's
    rows are fetched by key: page 1,000 costs about what page 1 does.

    The count stops at ``COUNT_CAP`` rows (or just past the requested page, if that is further):
    an exact ``COUNT(*)`` of a large table costs more than the page. ``capped`` tells the template
    to say "more than"; the next page still exists, the last one is not known.
    """

    capped = False
    count_floor = 0
    _wanted = 1

    def page(self, number: int | str) -> Page:
        with contextlib.suppress(TypeError, ValueError):  # validate_number says why
            self._wanted = max(1, int(number))
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        queryset: QuerySet = self.object_list  # type: ignore[assignment]  # built on querysets only
        keys = list(queryset.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=keys).order_by()}
        return self._get_page(  # type: ignore[attr-defined]  # Paginator's hook, not in the stubs
            [rows[k] for k in keys if k in rows], number, self
        )

    @cached_property
    def count(self) -> int:
        reach = self._wanted * self.per_page
        floor = max(COUNT_CAP, reach if reach <= COUNT_REACH else 0)
        queryset: QuerySet = self.object_list  # type: ignore[assignment]  # built on querysets only
        found = queryset.order_by().values("pk")[: floor + 1].count()
        # One row past the floor: the count reaches one page further than the floor, so the
        # page that asked has a next one.
        self.capped = found > floor
        self.count_floor = floor
        return found


def newest_first_via_filter(queryset: QuerySet) -> QuerySet:
    """``ORDER BY id DESC`` for a selective filter: the same rows in the same order.

    Ordered by the bare primary key, the planner walks it backwards and stops at the first page
    of matches, assuming the matches are spread evenly; when they are not (a number prefix, a
    date range), it reads and discards a million rows first. Ordered by ``id + 0``, it reads the
    filter's own index and sorts just the matches (a top-N sort).
    """
    key = ExpressionWrapper(F("pk") + 0, output_field=BigIntegerField())
    return queryset.order_by(OrderBy(key, descending=True))
