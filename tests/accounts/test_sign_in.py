"""Sign-in: second factor, recovery codes, resets, lockout and unlock, idle timeout, headers."""

from __future__ import annotations

import time

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client as HttpClient
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pghistory.models import Context

from accounts.middleware import REPLAY
from accounts.signals import LAST_SEEN
from audit.models import StaffSession
from core.roles import ADMIN, BILLING, READ_ONLY, SUPPORT
from tests.factories.second_factor import authenticator_for, current_code, force_login_verified
from tests.factories.users import PASSWORD

pytestmark = pytest.mark.django_db


def kinds(user) -> list[str]:
    return list(
        StaffSession.objects.filter(user=user).order_by("id").values_list("kind", flat=True)
    )


def password_login(user, **client_kwargs) -> HttpClient:
    http = HttpClient(**client_kwargs)
    response = http.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return http


def test_a_role_that_needs_a_factor_is_sent_to_enrolment_and_enrols(make_staff):
    admin = make_staff(ADMIN, username="ada")
    http = password_login(admin)
    # Nothing else first: the dashboard, a list, the admin all send to enrolment.
    for url in ("/", reverse("clients:client-list"), "/admin/"):
        response = http.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:enrol"))
    page = http.get(reverse("accounts:enrol"))
    assert page.status_code == 200
    qr = http.get(reverse("accounts:enrol-qr"))
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert page.context["secret"] in device.config_url

    wrong = http.post(reverse("accounts:enrol"), {"token": "000000"})
    assert "not right" in wrong.content.decode()
    assert wrong.context["form"].errors.as_data()["token"][0].code == "wrong_code"
    device.refresh_from_db()
    assert not device.confirmed

    done = http.post(reverse("accounts:enrol"), {"token": current_code(device), "next": "/"})
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in done.content.decode() for code in codes)
    assert http.get("/").status_code == 200
    assert kinds(admin) == ["login", "otp_enrol"]
    actions = set(Context.objects.values_list("metadata__action", flat=True))
    assert "accounts.confirm_enrolment" in actions


def test_support_signs_in_with_the_password_alone_unless_required_for_all(make_staff, settings):
    agent = make_staff(SUPPORT, username="sam")
    assert password_login(agent).get("/").status_code == 200
    settings.OTP_REQUIRED_FOR_ALL = True
    response = password_login(agent).get("/")
    assert response["Location"].startswith(reverse("accounts:enrol"))


@pytest.mark.parametrize("role", [ADMIN, BILLING])
def test_an_enrolled_user_passes_the_code_after_the_password(make_staff, role):
    user = make_staff(role, username="bea")
    device = authenticator_for(user)
    http = password_login(user)
    response = http.get(reverse("clients:client-list"))
    assert response["Location"].startswith(reverse("accounts:verify"))
    assert http.post(reverse("accounts:verify"), {"token": "123456"}).status_code == 200
    assert http.get("/")["Location"].startswith(reverse("accounts:verify"))
    time.sleep(1.1)  # django-otp slows down guessing: one second after a wrong code
    response = http.post(
        reverse("accounts:verify"), {"token": current_code(device), "next": "/clients/"}
    )
    assert response["Location"] == "/clients/"
    assert http.get("/clients/").status_code == 200
    assert kinds(user) == ["login", "otp_failed", "otp_ok"]


def test_anyone_who_may_read_the_audit_trail_needs_the_factor(make_staff):
    from django.contrib.auth.models import Permission

    reader = make_staff(READ_ONLY, username="rita")
    assert password_login(reader).get("/").status_code == 200
    reader.user_permissions.add(Permission.objects.get(codename="review_audit"))
    assert password_login(reader).get("/")["Location"].startswith(reverse("accounts:enrol"))


def test_a_recovery_code_works_once(make_staff):
    user = make_staff(ADMIN, username="ada")
    http = password_login(user)
    device = TOTPDevice.objects.get(pk=http.get(reverse("accounts:enrol")).context["device"].pk)
    codes = http.post(reverse("accounts:enrol"), {"token": current_code(device)}).context["codes"]
    assert StaticToken.objects.filter(device__user=user).count() == 10

    first = password_login(user)
    assert first.post(reverse("accounts:verify"), {"token": codes[0]}).status_code == 302
    assert first.get("/").status_code == 200
    again = password_login(user)
    assert again.post(reverse("accounts:verify"), {"token": codes[0]}).status_code == 200
    assert again.get("/").status_code == 302
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert kinds(user)[-4:] == ["login", "recovery", "login", "otp_failed"]


def test_an_admin_resets_a_second_factor_with_a_reason_and_it_is_in_the_trail(
    make_staff, client_as
):
    bea = make_staff(BILLING, username="bea")
    beas_browser = force_login_verified(HttpClient(), bea)
    assert beas_browser.get("/").status_code == 200
    admin = client_as(ADMIN, username="ada")
    url = reverse("accounts:reset", args=[bea.pk])

    admin.post(url, {"reason": "  "})
    assert TOTPDevice.objects.filter(user=bea).exists()  # no reason, no reset

    response = admin.post(url, {"reason": "Lost her phone (ticket ABC-123456)"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=bea).exists()
    # Signed out everywhere; next time she enrols again.
    assert beas_browser.get("/")["Location"].startswith(reverse("login"))
    assert password_login(bea).get("/")["Location"].startswith(reverse("accounts:enrol"))
    frame = Context.objects.get(metadata__action="accounts.reset_second_factor")
    assert frame.metadata["reason"] == "Lost her phone (ticket ABC-123456)"
    assert frame.metadata["username"] == "ada"
    assert "otp_reset" in kinds(bea)
    # The deletion is an event of the trail, in that frame.
    from accounts.models import AuthenticatorApp
    from audit.tracking import event_model_for

    events = event_model_for(AuthenticatorApp).objects.filter(pgh_context=frame.pk)
    assert events.filter(pgh_label="delete").count() == 1


def test_only_an_admin_may_reset_or_unlock(make_staff, client_as):
    bea = make_staff(BILLING, username="bea")
    authenticator_for(bea)
    billing = client_as(BILLING, username="bill")
    url = reverse("accounts:reset", args=[bea.pk])
    assert billing.post(url, {"reason": "because"}).status_code == 403
    assert (
        billing.post(reverse("accounts:unlock"), {"reason": "x", "username": "bea"}).status_code
        == 403
    )
    assert billing.get(reverse("accounts:staff")).status_code == 403
    assert TOTPDevice.objects.filter(user=bea).exists()


def test_a_factor_change_signs_out_the_other_sessions(make_staff):
    user = make_staff(ADMIN, username="ada")
    other = force_login_verified(HttpClient(), user)
    assert other.get("/").status_code == 200
    http = password_login(user)
    http.get(reverse("accounts:verify"))
    # Enrolling a new app from a verified session replaces the old one.
    current = force_login_verified(HttpClient(), user)
    device = TOTPDevice.objects.get(pk=current.get(reverse("accounts:enrol")).context["device"].pk)
    current.post(reverse("accounts:enrol"), {"token": current_code(device)})
    assert current.get("/").status_code == 200
    assert other.get("/")["Location"].startswith(reverse("login"))
    assert list(TOTPDevice.objects.filter(user=user)) == [device]


def attempt(username: str, password: str = "wrong", **client_kwargs):  # noqa: S107
    return HttpClient(**client_kwargs).post(
        reverse("login"), {"username": username, "password": password}
    )


def test_lockout_after_n_failures_for_one_username(make_staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    agent = make_staff(SUPPORT, username="sam")
    for n in range(3):
        response = attempt("sam", REMOTE_ADDR=f"198.51.100.{n + 1}", HTTP_USER_AGENT="guesser/1")
    assert response.status_code == 429
    refused = attempt("sam", PASSWORD, REMOTE_ADDR="198.51.100.50")
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.content.decode()
    assert AccessAttempt.objects.filter(
        username="sam", ip_address="198.51.100.1", user_agent="guesser/1"
    ).exists()
    failed = StaffSession.objects.filter(kind="failed", username="sam")
    assert failed.filter(user_agent="guesser/1", ip__startswith="198.51.100.").count() == 3
    assert StaffSession.objects.filter(kind="locked", username="sam").exists()
    # Another user is not locked out by sam's failures.
    other = make_staff(SUPPORT, username="sue")
    assert password_login(other).get("/").status_code == 200
    assert agent.pk


def test_lockout_by_address_behind_a_trusted_proxy(make_staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AUDIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_staff(SUPPORT, username="sam")
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for name in ("a", "b", "c"):
        attempt(name, HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy)
    assert AccessAttempt.objects.filter(ip_address="203.0.113.7").exists()
    refused = attempt("sam", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy)
    assert refused.status_code == 429
    # A spoofed left-most hop does not escape the count; another client behind the proxy is fine.
    spoofed = attempt("sam", PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7", **via_proxy)
    assert spoofed.status_code == 429
    other = attempt("sam", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **via_proxy)
    assert other.status_code == 302


def test_an_admin_unlocks_with_a_reason(make_staff, client_as, settings):
    settings.AXES_FAILURE_LIMIT = 2
    make_staff(SUPPORT, username="sam")
    attempt("sam")
    attempt("sam")
    assert attempt("sam", PASSWORD).status_code == 429
    admin = client_as(ADMIN, username="ada")
    page = admin.get(reverse("accounts:staff"))
    assert "sam" in page.content.decode()
    admin.post(reverse("accounts:unlock"), {"username": "sam", "reason": ""})
    assert attempt("sam", PASSWORD).status_code == 429
    admin.post(reverse("accounts:unlock"), {"username": "sam", "reason": "Verified by phone"})
    assert attempt("sam", PASSWORD).status_code == 302
    frame = Context.objects.get(metadata__action="accounts.unlock")
    assert frame.metadata["reason"] == "Verified by phone"
    assert StaffSession.objects.filter(kind="unlocked", username="sam").exists()


def expire(http: HttpClient) -> None:
    session = http.session
    session[LAST_SEEN] = int(time.time()) - 31 * 60
    session.save()


def test_idle_timeout_sends_a_get_to_the_login_page_with_next(make_staff):
    agent = make_staff(SUPPORT, username="sam")
    http = password_login(agent)
    assert http.get("/clients/").status_code == 200
    expire(http)
    response = http.get("/clients/?q=ab")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2Fclients%2F%3Fq%3Dab"
    assert http.get("/").status_code == 302  # signed out
    assert "idle" in kinds(agent)


def test_a_post_after_the_idle_timeout_is_kept_and_replayed_after_signing_in(make_staff):
    agent = make_staff(SUPPORT, username="sam")
    http = password_login(agent)
    url = reverse("clients:client-create")
    http.get(url)
    expire(http)
    typed = {"first_name": "Typedname", "last_name": "Kept", "email": "not-an-email"}
    response = http.post(url, typed)
    assert response["Location"].startswith(reverse("login"))
    assert REPLAY in http.session
    login = http.post(reverse("login"), {"username": "sam", "password": PASSWORD, "next": url})
    assert login["Location"] == url
    shown = http.get(url)
    assert shown.status_code == 400  # the form as typed, with its errors
    assert shown.context["form"].is_bound
    html = shown.content.decode()
    assert 'value="Typedname"' in html and 'value="not-an-email"' in html
    # Once only: the next GET is an empty form again.
    assert not http.get(url).context["form"].is_bound


def test_a_kept_post_is_never_replayed_for_someone_else(make_staff):
    make_staff(SUPPORT, username="sam")
    make_staff(SUPPORT, username="sue")
    http = password_login(make_staff(SUPPORT, username="sam"))
    url = reverse("clients:client-create")
    expire(http)
    http.post(url, {"first_name": "Sams"})
    http.post(reverse("login"), {"username": "sue", "password": PASSWORD})
    assert not http.get(url).context["form"].is_bound


def test_absolute_lifetime(make_staff, settings):
    settings.SESSION_ABSOLUTE_SECONDS = 0
    http = password_login(make_staff(SUPPORT, username="sam"))
    time.sleep(1.1)
    assert http.get("/")["Location"].startswith(reverse("login"))


def test_security_headers(make_staff):
    http = password_login(make_staff(SUPPORT, username="sam"))
    for url in ("/", reverse("login"), "/clients/"):
        response = http.get(url)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]


def test_sessions_table_keeps_no_session_of_a_reset_user(make_staff, client_as):
    bea = make_staff(BILLING, username="bea")
    force_login_verified(HttpClient(), bea)
    force_login_verified(HttpClient(), bea)
    client_as(ADMIN, username="ada").post(
        reverse("accounts:reset", args=[bea.pk]), {"reason": "left the company"}
    )
    remaining = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(bea.pk) not in remaining


def test_the_second_factor_costs_one_query_per_request(client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = client_as(ADMIN, username="ada")
    admin.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert admin.get("/").status_code == 200
    device_reads = [q for q in queries.captured_queries if "otp_totp_totpdevice" in q["sql"]]
    assert len(device_reads) == 1  # django-otp's session device, checked on each request


def test_the_password_alone_cannot_enrol_a_new_app_over_the_old_one(make_staff):
    user = make_staff(ADMIN, username="ada")
    authenticator_for(user)
    http = password_login(user)  # an attacker who knows the password only
    response = http.get(reverse("accounts:enrol"))
    assert response["Location"].startswith(reverse("accounts:verify"))
    assert http.get(reverse("accounts:enrol-qr")).status_code == 403
    assert http.post(reverse("accounts:enrol"), {"token": "123456"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()


def test_sign_in_security_lists_staff_a_page_at_a_time(client_as, make_staff):
    from accounts.views import STAFF_PAGE

    admin = client_as(ADMIN, username="aaa-admin")
    for i in range(STAFF_PAGE):
        make_staff(SUPPORT, username=f"desk-{i:03d}")
    first = admin.get(reverse("accounts:staff"))
    assert len(first.context["staff"]) == STAFF_PAGE
    assert first.context["page_obj"].has_next()
    second = admin.get(reverse("accounts:staff"), {"page": "2"})
    assert [row["user"].username for row in second.context["staff"]] == ["desk-049"]
    # A page that is not a number, or past the end, is a real page, never an error.
    assert admin.get(reverse("accounts:staff"), {"page": "x"}).status_code == 200
    assert admin.get(reverse("accounts:staff"), {"page": "99"}).status_code == 200
