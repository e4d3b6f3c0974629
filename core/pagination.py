from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class DeferredJoinPaginator(Paginator):
    """Numbered pages whose cost does not grow with the page number.

    ``OFFSET n`` over full rows makes PostgreSQL fetch and discard n heap rows. Here the offset
    runs over the primary keys only (an index-only scan on the ordering index), then the page's
    rows are fetched by key: page 1,000 costs about what page 1 does.
    """

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        queryset: QuerySet = self.object_list
        keys = list(queryset.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in queryset.filter(pk__in=keys).order_by()}
        return self._get_page([rows[k] for k in keys if k in rows], number, self)
