"""Invoice series and their numbers: gap-free, taken under the counter row's lock when an
invoice is published.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

from billing.models import Invoice, InvoiceCounter, InvoiceSeries


def default_series() -> InvoiceSeries:
    series = InvoiceSeries.objects.filter(is_default=True).first()
    if series is None:
        series, _ = InvoiceSeries.objects.get_or_create(
            code="inv", defaults={"name": "Invoices", "is_default": True}
        )
    return series


def _next_number(series: InvoiceSeries, issued: dt.date) -> tuple[str, int]:
    """The next number of the series, taken under the counter row's lock.

    Not a sequence (sequences skip numbers on rollback) and not MAX()+1 (two publishers would
    read the same maximum): the UPDATE of the locked counter row queues concurrent publishers,
    and a rollback gives the number back.
    """
    year = issued.year if series.reset_yearly else 0
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(series=series, year=year)], ignore_conflicts=True
    )
    counter = InvoiceCounter.objects.select_for_update().get(series=series, year=year)
    counter.last_number += 1
    number = series.format_number(counter.last_number, issued)
    # Two series whose formats overlap can produce the same string; say so plainly (the
    # increment rolls back with the refusal) instead of failing on the unique index.
    holder = Invoice.objects.filter(number=number).values_list("pk", flat=True).first()
    if holder is not None:
        raise ValidationError(
            "Number %(number)s is already on invoice #%(holder)s: the series %(series)s repeats "
            "another series' numbers. Give it a format of its own (a distinct prefix).",
            code="number_taken",
            params={"number": number, "holder": holder, "series": series.name},
        )
    counter.save(update_fields=["last_number"])
    return number, counter.last_number
