"""What trusting the sign-in costs a page (issue 18): the second-factor and session checks, and
the per-action rights (group permissions) against a superuser, who needs no permission lookup."""

from __future__ import annotations

from benchmarks.config import login
from benchmarks.measure import measure
from benchmarks.scenarios.bench import Bench, row

# The middleware issue 18 added in front of every page: the verified second factor, the idle
# and absolute session limits.
SIGN_IN_MIDDLEWARE = (
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
)


def _client(user):
    from django.test import Client as HttpClient

    return login(HttpClient(), user)


def _get(http, url):
    def call(_: int) -> None:
        response = http.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")

    return call


def run(b: Bench) -> list[dict]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import override_settings

    rows = []
    for url, name in (("/clients/", "Client list"), ("/", "Dashboard")):
        on = measure(f"{name} with sign-in checks", _get(_client(b.user), url), b.iterations)
        kept = [m for m in settings.MIDDLEWARE if m not in SIGN_IN_MIDDLEWARE]
        with override_settings(MIDDLEWARE=kept):
            off = measure(f"{name} without them", _get(_client(b.user), url), b.iterations)
        rows.append(row(f"{name}: second factor + session limits", on, off, "baseline: without"))

    billing, _ = get_user_model().objects.get_or_create(
        username="bench-billing", defaults={"is_staff": True}
    )
    billing.groups.add(Group.objects.get(name="Billing"))
    for url, name in (("/clients/", "Client list"), ("/billing/invoices/", "Invoice list")):
        role = measure(f"{name} as Billing", _get(_client(billing), url), b.iterations)
        superuser = measure(f"{name} as superuser", _get(_client(b.user), url), b.iterations)
        rows.append(row(f"{name}: rights of a role", role, superuser, "baseline: a superuser"))
    return rows
