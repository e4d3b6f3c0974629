import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client as HttpClient
from django.urls import reverse

from audit.models import StaffSession
from tests.factories.users import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_logout_and_failed_login_are_logged_with_ip_and_agent(make_staff):
    user = make_staff("Support", username="sam")
    http = HttpClient(REMOTE_ADDR="203.0.113.50", HTTP_USER_AGENT="Firefox/140")
    http.post(reverse("login"), {"username": "sam", "password": "wrong"})
    http.post(reverse("login"), {"username": "sam", "password": PASSWORD})
    http.post(reverse("logout"))
    sessions = list(StaffSession.objects.order_by("id"))
    assert [s.kind for s in sessions] == ["failed", "login", "logout"]
    assert {s.ip for s in sessions} == {"203.0.113.50"}
    assert {s.user_agent for s in sessions} == {"Firefox/140"}
    assert sessions[0].user is None and sessions[0].username == "sam"
    assert sessions[1].user == user


def test_failed_login_shows_the_form_again_with_an_error(make_staff):
    make_staff("Support", username="sam")
    response = HttpClient().post(reverse("login"), {"username": "sam", "password": "nope"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["form"]["username"].value() == "sam"


def test_staff_sessions_page_lists_and_filters(staff_client, make_staff):
    make_staff("Billing", username="bea")
    HttpClient().post(reverse("login"), {"username": "bea", "password": "bad"})
    response = staff_client.get(reverse("audit:staff-sessions"), {"kind": "failed"})
    assert response.status_code == 200
    assert [s.username for s in response.context["sessions"]] == ["bea"]


def test_staff_session_log_is_append_only(make_staff):
    make_staff("Billing", username="bea")
    HttpClient().post(reverse("login"), {"username": "bea", "password": "bad"})
    for sql in ("UPDATE audit_staffsession SET ip = NULL", "DELETE FROM audit_staffsession"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert StaffSession.objects.count() == 1
