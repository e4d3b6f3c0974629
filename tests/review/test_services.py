"""Decisions on flagged entries: never by the maker, audited, append-only; escalation to
Admins; rule edits with a reason; the daily digest through the outbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from pghistory.models import Context

from billing import services as billing
from clients.models import EmailLog
from core.roles import ADMIN, BILLING, SUPPORT
from review import services
from review.models import (
    FlaggedEntry,
    FlaggedEntryEvent,
    ReviewDecision,
    ReviewDecisionEvent,
    ReviewRule,
    ReviewRuleEvent,
)
from review.scan import scan_trail
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db


def _code(exc: pytest.ExceptionInfo) -> str:
    error = exc.value
    if hasattr(error, "error_dict"):
        return next(iter(error.error_dict.values()))[0].code
    return error.code


@pytest.fixture
def billing_user(make_staff):
    return make_staff(BILLING, username="bea")


@pytest.fixture
def flagged(billing_user) -> FlaggedEntry:
    """A large credit added by bea, flagged."""
    billing.add_credit(
        client=ClientFactory(currency="GBP"),
        amount=Decimal("800.00"),
        reason="goodwill",
        actor=billing_user,
    )
    scan_trail()
    return FlaggedEntry.objects.get(rule__key="large_credit")


def test_the_maker_cannot_review_their_own_entry(flagged, billing_user):
    with pytest.raises(ValidationError) as exc:
        services.decide_entry(
            entry=flagged, decision="reviewed", note="looks fine", reviewer=billing_user
        )
    assert _code(exc) == "own_entry"
    flagged.refresh_from_db()
    assert flagged.status == "waiting" and not ReviewDecision.objects.exists()


def test_another_reviewer_marks_it_reviewed_with_a_note(flagged, staff_admin):
    decision = services.decide_entry(
        entry=flagged, decision="reviewed", note="SLA credit agreed", reviewer=staff_admin
    )
    flagged.refresh_from_db()
    assert flagged.status == "reviewed"
    assert decision.note == "SLA credit agreed" and decision.reviewer == staff_admin


def test_a_decision_needs_a_note(flagged, staff_admin):
    with pytest.raises(ValidationError) as exc:
        services.decide_entry(entry=flagged, decision="reviewed", note="  ", reviewer=staff_admin)
    assert _code(exc) == "reason_required"


def test_a_reviewed_entry_is_not_decided_again(flagged, staff_admin):
    services.decide_entry(entry=flagged, decision="reviewed", note="ok", reviewer=staff_admin)
    with pytest.raises(ValidationError) as exc:
        services.decide_entry(entry=flagged, decision="escalated", note="hm", reviewer=staff_admin)
    assert _code(exc) == "invalid_transition"


def test_an_escalated_entry_goes_to_admins_only(flagged, make_staff, staff_admin):
    support = make_staff(SUPPORT, username="sam")
    services.decide_entry(
        entry=flagged, decision="escalated", note="too much for goodwill", reviewer=support
    )
    flagged.refresh_from_db()
    assert flagged.status == "escalated"
    other = make_staff(SUPPORT, username="sue")
    with pytest.raises(ValidationError) as exc:
        services.decide_entry(entry=flagged, decision="reviewed", note="fine", reviewer=other)
    assert _code(exc) == "escalated_to_admins"
    services.decide_entry(entry=flagged, decision="reviewed", note="agreed", reviewer=staff_admin)
    flagged.refresh_from_db()
    assert flagged.status == "reviewed"


def test_escalating_emails_the_admins_through_the_outbox(flagged, make_staff, staff_admin):
    support = make_staff(SUPPORT, username="sam")
    services.decide_entry(entry=flagged, decision="escalated", note="please", reviewer=support)
    email = EmailLog.objects.get(subject__startswith="Escalated for review")
    assert staff_admin.email in email.to and "please" in email.body


def test_decisions_are_in_the_trail_with_their_note_as_reason(flagged, staff_admin):
    decision = services.decide_entry(
        entry=flagged, decision="reviewed", note="checked the ticket", reviewer=staff_admin
    )
    event = ReviewDecisionEvent.objects.get(pgh_obj_id=decision.pk)
    context = Context.objects.get(pk=event.pgh_context_id)
    assert context.metadata["action"] == "review.review_entry"
    assert context.metadata["reason"] == "checked the ticket"
    assert context.metadata["user"] == staff_admin.pk
    change = FlaggedEntryEvent.objects.filter(pgh_obj_id=flagged.pk, pgh_label="update").get()
    assert change.status == "reviewed" and change.pgh_context_id == context.pk


def test_a_decision_cannot_be_changed_or_deleted(flagged, staff_admin):
    decision = services.decide_entry(
        entry=flagged, decision="reviewed", note="ok", reviewer=staff_admin
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        ReviewDecision.objects.filter(pk=decision.pk).update(note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        ReviewDecision.objects.filter(pk=decision.pk).delete()
    decision.refresh_from_db()
    assert decision.note == "ok"


def test_a_rule_change_needs_a_reason_and_is_audited(staff_admin):
    rule = ReviewRule.objects.get(key="large_refund")
    with pytest.raises(ValidationError) as exc:
        services.update_rule(
            rule=rule, enabled=False, params=rule.params, reason="", actor=staff_admin
        )
    assert _code(exc) == "reason_required"
    services.update_rule(
        rule=rule,
        enabled=True,
        params={"thresholds": {"GBP": "250.00"}},
        reason="lower limit after the audit",
        actor=staff_admin,
    )
    rule.refresh_from_db()
    assert rule.params == {"thresholds": {"GBP": "250.00"}}
    event = ReviewRuleEvent.objects.filter(pgh_obj_id=rule.pk, pgh_label="update").latest("pgh_id")
    context = Context.objects.get(pk=event.pgh_context_id)
    assert context.metadata["action"] == "review.update_rule"
    assert context.metadata["reason"] == "lower limit after the audit"


def test_a_rule_saved_unchanged_is_refused(staff_admin):
    rule = ReviewRule.objects.get(key="deletes")
    with pytest.raises(ValidationError) as exc:
        services.update_rule(
            rule=rule, enabled=rule.enabled, params=rule.params, reason="x", actor=staff_admin
        )
    assert _code(exc) == "no_change"


def test_the_digest_goes_to_reviewers_who_asked_and_lists_what_is_new(
    flagged, staff_admin, make_staff
):
    services.set_daily_digest(user=staff_admin, daily_digest=True, actor=staff_admin)
    not_asked = make_staff(ADMIN, username="ann")
    no_right = make_staff(SUPPORT, username="sam")
    services.set_daily_digest(user=no_right, daily_digest=True, actor=no_right)
    assert services.send_daily_digest() == 1
    (email,) = EmailLog.objects.filter(subject__startswith="Review queue")
    assert email.to == staff_admin.email and not_asked.email not in email.to
    assert flagged.summary in email.body
    # Nothing new since: no second email.
    assert services.send_daily_digest() == 0
    assert EmailLog.objects.filter(subject__startswith="Review queue").count() == 1
