"""The queue page: who may see it, its filters, the diff of each entry, constant queries; the
decision, rules and digest pages; the dashboard count and the sidebar."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services as billing
from core.roles import BILLING, READ_ONLY, SUPPORT
from review.models import FlaggedEntry, ReviewDecision, ReviewerSettings, ReviewRule
from review.scan import scan_trail
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db

QUEUE = reverse("review:queue")


def _credit(actor, amount="800.00", currency="GBP"):
    billing.add_credit(
        client=ClientFactory(currency=currency),
        amount=Decimal(amount),
        reason="goodwill",
        actor=actor,
    )


def _flags(key="large_credit"):
    return FlaggedEntry.objects.filter(rule__key=key)


@pytest.fixture
def bea(make_staff):
    return make_staff(BILLING, username="bea")


@pytest.mark.parametrize("role", [BILLING, SUPPORT, READ_ONLY])
def test_the_queue_is_for_admins_and_holders_of_the_right(client_as, role):
    assert client_as(role).get(QUEUE).status_code == 403


def test_a_role_given_the_right_sees_the_queue(client_as):
    right = Permission.objects.get(content_type__app_label="review", codename="review_entry")
    Group.objects.get(name=SUPPORT).permissions.add(right)
    assert client_as(SUPPORT).get(QUEUE).status_code == 200


def test_the_queue_shows_each_entry_with_its_diff(staff_client, bea):
    _credit(bea)
    scan_trail()
    html = staff_client.get(QUEUE).content.decode()
    assert "Credit of 800.00 GBP added" in html
    assert "diff-new" in html and "800.00" in html  # the entry page's diff rendering
    assert "Mark reviewed" in html


def test_the_maker_sees_their_entry_without_the_buttons(client_as, make_staff):
    admin = make_staff("Admin", username="ada")
    _credit(admin)
    scan_trail()
    rule = ReviewRule.objects.get(key="large_credit")
    html = client_as("Admin", username="ada").get(QUEUE, {"rule": rule.pk}).content.decode()
    assert "You made this entry" in html and "Mark reviewed" not in html


def test_the_maker_posting_a_decision_is_refused_with_the_code(client_as, make_staff):
    admin = make_staff("Admin", username="ada")
    _credit(admin)
    scan_trail()
    entry = _flags().get()
    response = client_as("Admin", username="ada").post(
        reverse("review:entry-decide", args=[entry.pk]),
        {"decision": "reviewed", "note": "mine, fine"},
    )
    assert response.status_code == 400
    assert response.context["form"].non_field_errors().as_data()[0].code == "own_entry"
    assert not ReviewDecision.objects.exists()


def test_a_reviewer_clears_an_entry_from_the_queue(staff_client, bea):
    _credit(bea)
    scan_trail()
    entry = _flags().get()
    response = staff_client.post(
        reverse("review:entry-decide", args=[entry.pk]),
        {"decision": "reviewed", "note": "agreed on the phone"},
    )
    assert response.status_code == 302 and response["Location"] == QUEUE
    entry.refresh_from_db()
    assert entry.status == "reviewed"
    assert "Credit of 800.00 GBP" not in staff_client.get(QUEUE).content.decode()
    assert "Credit of 800.00 GBP" in staff_client.get(QUEUE + "?status=reviewed").content.decode()


def test_the_queue_filters_by_rule_staff_member_age_and_amount(staff_client, bea, make_staff):
    cid = make_staff(BILLING, username="cid")
    _credit(bea, "800.00")
    _credit(cid, "2000.00")
    scan_trail()
    old = _flags().get(maker=cid)
    FlaggedEntry.objects.filter(pk=old.pk).update(
        occurred_at=old.occurred_at - dt.timedelta(days=10)
    )
    rule = ReviewRule.objects.get(key="large_credit")

    def shown(**query) -> set[str]:
        page = staff_client.get(QUEUE, {"rule": rule.pk, **query})
        assert page.status_code == 200
        return {e.maker_name for e in page.context["entries"]}

    assert shown() == {"bea", "cid"}
    assert shown(maker=bea.pk) == {"bea"}
    assert shown(age="day") == {"bea"}
    assert shown(age="month") == {"cid"}
    assert shown(amount_min="1000") == {"cid"}
    assert shown(amount_max="1000") == {"bea"}
    other = ReviewRule.objects.get(key="deletes")
    assert {e.pk for e in staff_client.get(QUEUE, {"rule": other.pk}).context["entries"]} == set()


def _queue_queries(staff_client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(QUEUE).status_code == 200
    return len(queries)


def test_the_queue_costs_the_same_queries_for_two_entries_as_for_twenty(staff_client, make_staff):
    makers = [make_staff(BILLING, username=f"maker{i}") for i in range(20)]
    for maker in makers[:2]:
        _credit(maker)
    scan_trail()
    staff_client.get(QUEUE)  # warm caches (content types, the session)
    few = _queue_queries(staff_client)
    for maker in makers[2:]:
        _credit(maker)
    scan_trail()
    assert _flags().count() == 20
    assert _queue_queries(staff_client) == few


def test_the_scan_button_reads_the_trail_now(staff_client, bea):
    _credit(bea)
    response = staff_client.post(reverse("review:scan"))
    assert response.status_code == 302
    assert _flags().count() == 1


def test_the_dashboard_shows_the_count_waiting(staff_client, bea, settings):
    settings.DASHBOARD_FIGURES_SECONDS = 0
    _credit(bea)
    _credit(bea)
    scan_trail()
    waiting = FlaggedEntry.objects.filter(status="waiting").count()
    assert waiting >= 2  # the credits, and what setting up the test wrote outside any context
    html = staff_client.get(reverse("core:dashboard")).content.decode()
    assert f'data-review-waiting="{waiting}"' in html
    assert f"{waiting} waiting for review" in html
    FlaggedEntry.objects.filter(pk=_flags().first().pk).update(status="reviewed")
    html = staff_client.get(reverse("core:dashboard")).content.decode()
    assert f'data-review-waiting="{waiting - 1}"' in html


def test_the_sidebar_links_the_queue_for_reviewers_only(staff_client, client_as):
    assert QUEUE in staff_client.get(reverse("core:dashboard")).content.decode()
    assert QUEUE not in client_as(SUPPORT).get(reverse("core:dashboard")).content.decode()


def test_an_admin_edits_a_rule_with_a_reason(staff_client):
    rule = ReviewRule.objects.get(key="large_credit")
    url = reverse("review:rule-edit", args=[rule.pk])
    assert staff_client.get(url).status_code == 200
    refused = staff_client.post(url, {"enabled": "on", "threshold_GBP": "100.00"})
    assert refused.status_code == 400
    saved = staff_client.post(
        url, {"enabled": "on", "threshold_GBP": "100.00", "reason": "tighter after the audit"}
    )
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.params == {"thresholds": {"GBP": "100.00"}}


def test_only_admins_edit_rules(client_as):
    rule = ReviewRule.objects.get(key="large_credit")
    assert client_as(BILLING).get(reverse("review:rules")).status_code == 403
    assert client_as(BILLING).get(reverse("review:rule-edit", args=[rule.pk])).status_code == 403


def test_a_reviewer_asks_for_the_daily_digest(staff_client, staff_admin):
    response = staff_client.post(reverse("review:digest-settings"), {"daily_digest": "on"})
    assert response.status_code == 302
    assert ReviewerSettings.objects.get(user=staff_admin).daily_digest is True


def test_the_audit_feed_filters_on_review_state(staff_client, bea):
    _credit(bea, "800.00")
    scan_trail()
    _credit(bea, "10.00")  # not flagged
    feed = reverse("audit:feed")
    rows = staff_client.get(feed, {"review_state": "open", "model": "billing.creditentry"})
    shown = {r.event.amount for r in rows.context["page"].rows}
    assert shown == {Decimal("800.00")}
    FlaggedEntry.objects.filter(rule__key="large_credit").update(status="reviewed")
    rows = staff_client.get(feed, {"review_state": "open", "model": "billing.creditentry"})
    assert rows.context["page"].rows == []
    rows = staff_client.get(feed, {"review_state": "reviewed", "model": "billing.creditentry"})
    assert {r.event.amount for r in rows.context["page"].rows} == {Decimal("800.00")}
