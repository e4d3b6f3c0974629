"""The scanner: one flag per entry and rule however often it runs, from however many workers;
a first scan of a long trail goes on where it stopped."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from billing import services as billing
from review.models import FlaggedEntry, ScanState
from review.scan import scan_trail
from tests.factories.clients import ClientFactory
from tests.factories.users import StaffFactory

pytestmark = pytest.mark.django_db


def _credits(actor, count: int) -> None:
    customer = ClientFactory(currency="GBP")
    for _ in range(count):
        billing.add_credit(client=customer, amount=Decimal("700.00"), reason="x", actor=actor)


def test_scanning_twice_flags_each_entry_once(staff_admin):
    _credits(staff_admin, 3)
    first = scan_trail()
    flags = FlaggedEntry.objects.filter(rule__key="large_credit").count()
    assert flags == 3 and first.flagged >= 3
    again = scan_trail()
    assert again.flagged == 0
    assert FlaggedEntry.objects.filter(rule__key="large_credit").count() == 3


def test_the_command_scans_like_the_task(staff_admin, capsys):
    _credits(staff_admin, 1)
    call_command("review_scan")
    assert "newly flagged" in capsys.readouterr().out
    assert FlaggedEntry.objects.filter(rule__key="large_credit").count() == 1
    state = ScanState.objects.get()
    assert state.scanned_through is not None and state.last_scan_at is not None


def test_a_scan_cut_short_goes_on_from_where_it_stopped(staff_admin):
    _credits(staff_admin, 6)
    # Two batches of two events: not the whole trail of this test.
    scan_trail(max_batches=2, batch_size=2)
    partial = FlaggedEntry.objects.filter(rule__key="large_credit").count()
    assert partial < 6
    scan_trail()
    assert FlaggedEntry.objects.filter(rule__key="large_credit").count() == 6


def test_the_scan_reads_a_constant_number_of_queries_per_batch(
    staff_admin, django_assert_max_num_queries
):
    _credits(staff_admin, 2)
    scan_trail()
    _credits(staff_admin, 20)
    # Lock, now(), rules, events, contexts, resets, existing keys, insert, the watermark, and
    # the audit frame's statements: the same for 2 credits as for 20.
    with django_assert_max_num_queries(14):
        scan_trail()


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_file_each_flag_once():
    actor = StaffFactory(role="Admin", username="conc-admin")
    scan_trail()  # the watermark row exists: only its lock keeps the two apart
    _credits(actor, 4)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            barrier.wait(timeout=10)
            scan_trail()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert FlaggedEntry.objects.filter(rule__key="large_credit").count() == 4
    keys = list(FlaggedEntry.objects.values_list("rule_id", "entry_key"))
    assert len(keys) == len(set(keys))
