"""Admin bulk actions are all or nothing: if a service refuses one selected row, no row is
changed, every refused row is listed with its reason, and the selection is kept on the page
(issue 15 item 16)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.tracking import event_model_for
from hosting.models import Service
from tests.factories.hosting import ServiceFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:hosting_service_changelist")


def _ticked(html: str) -> set[int]:
    boxes = re.findall(r'<input type="checkbox" name="_selected_action"[^>]*>', html)
    return {int(re.search(r'value="(\d+)"', b).group(1)) for b in boxes if " checked" in b}


@pytest.fixture
def selection():
    active = ServiceFactory.create_batch(2, status=Service.Status.ACTIVE)
    terminated = ServiceFactory(status=Service.Status.TERMINATED)
    return [*active, terminated]


def _suspend(http, rows, **extra):
    return http.post(
        CHANGELIST,
        {"action": "suspend", "_selected_action": [s.pk for s in rows], **extra},
    )


def test_one_refused_row_means_no_row_is_changed(staff_client, selection):
    response = _suspend(staff_client, selection, audit_reason="abuse report")
    assert response.status_code == 302
    statuses = {s.pk: s.status for s in Service.objects.all()}
    assert statuses == {s.pk: s.status for s in selection}  # the two active ones too
    assert not event_model_for(Service).objects.filter(pgh_label="update").exists()


def test_the_refused_rows_are_listed_with_their_reasons(staff_client, selection):
    response = _suspend(staff_client, selection, audit_reason="abuse report")
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    terminated = selection[-1]
    assert any("Nothing was changed" in t for t in texts)
    assert any(str(terminated) in t and "cannot become suspended" in t for t in texts)
    assert not any("updated" in t for t in texts)
    assert not any(str(selection[0]) + ":" in t for t in texts)  # rows that passed are not


def test_the_selection_is_kept_after_a_refusal(staff_client, selection):
    response = _suspend(staff_client, selection, audit_reason="abuse report")
    page = staff_client.get(response["Location"])
    assert page.status_code == 200
    assert _ticked(page.content.decode()) == {s.pk for s in selection}


def test_the_selection_is_kept_when_the_reason_is_missing(staff_client, selection):
    response = _suspend(staff_client, selection[:2])
    page = staff_client.get(response["Location"])
    assert "Give a reason" in page.content.decode()
    assert _ticked(page.content.decode()) == {s.pk for s in selection[:2]}
    assert set(Service.objects.values_list("status", flat=True)) == {"active", "terminated"}


def test_the_selection_survives_the_changelist_filters(staff_client, selection):
    url = CHANGELIST + "?status__exact=active"
    response = staff_client.post(
        url,
        {"action": "suspend", "_selected_action": [s.pk for s in selection[:2]]},
    )
    assert "status__exact=active" in response["Location"]
    page = staff_client.get(response["Location"])
    assert page.status_code == 200 and "?e=1" not in page.request["QUERY_STRING"]
    assert _ticked(page.content.decode()) == {s.pk for s in selection[:2]}


def test_when_every_row_passes_all_are_applied(staff_client, selection):
    response = _suspend(staff_client, selection[:2], audit_reason="abuse report")
    assert response.status_code == 302
    assert {s.status for s in Service.objects.filter(pk__in=[s.pk for s in selection[:2]])} == {
        "suspended"
    }
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "2 record(s) updated." in texts
    assert _ticked(staff_client.get(response["Location"]).content.decode()) == set()
