"""One way to write (issue 16 part 2): every staff page that posts is a ``core.write`` view,
its refusal comes back on the form with the input kept (400), an expected failure too, and
dates and status badges are declared once."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.conf import settings
from django.contrib.auth.views import LoginView, LogoutView
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from core.write import WriteView

# Pages that post but are not staff forms, each with why.
NOT_WRITE_VIEWS = {
    "SetPasswordView": "the client's own page, outside staff login",
    "PublicVoteView": "the public knowledgebase's one-click vote, no staff, no form page",
    # Sign-in steps, like Django's LoginView: no record, no service refusal to put on a form.
    "EnrolView": "sign-in: confirm a new authenticator app with a code",
    "VerifyView": "sign-in: the code after the password",
}


def _view_classes(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":  # Django's admin has its own write path
                continue
            yield from _view_classes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None)
            if view_class is not None:
                yield prefix + str(entry.pattern), view_class


def test_every_page_that_posts_is_a_write_view():
    strays = sorted(
        f"{route}: {cls.__module__}.{cls.__name__}"
        for route, cls in _view_classes(get_resolver().url_patterns)
        if hasattr(cls, "post")
        and not issubclass(cls, WriteView | LoginView | LogoutView)
        and cls.__name__ not in NOT_WRITE_VIEWS
    )
    assert not strays, "write these on core.write.WriteView:\n" + "\n".join(strays)


def test_the_day_month_year_format_is_declared_once():
    """Pages show dates through SHORT_DATE_FORMAT / SHORT_DATETIME_FORMAT
    (``whmcs_manual/formats``); no template, view or form spells the format itself."""
    base = settings.BASE_DIR
    pages = [*base.glob("*/views.py"), *base.glob("*/forms.py"), *base.glob("*/widgets.py")]
    found = [
        str(path.relative_to(base))
        for path in [*(base / "templates").rglob("*.*"), *pages]
        if path.is_file() and re.search(r"d/m/Y|%d/%m/%Y", path.read_text(errors="ignore"))
    ]
    assert not found, "use SHORT_DATE_FORMAT / SHORT_DATETIME_FORMAT in: " + ", ".join(found)


BUSINESS_APPS = ("clients", "hosting", "billing", "orders", "support", "affiliates", "kb")


def test_the_write_view_and_the_badge_depend_on_no_business_app():
    import ast

    base = settings.BASE_DIR / "core"
    found = []
    for path in (base / "write.py", base / "permissions.py", base / "templatetags/badges.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in BUSINESS_APPS]
            # core.views reaches the dashboard and the client picker: not for the base view.
            found += [f"{path.name}: {n}" for n in names if n == "core.views"]
    assert not found


def test_status_badges_name_only_statuses_the_model_has():
    from django.apps import apps

    wrong = [
        f"{model.__name__}: {key}"
        for model in apps.get_models()
        for key in getattr(model, "STATUS_BADGES", {})
        if key not in model.Status.values
    ]
    # Other choice fields' badges ({% status_badge record "priority" %}) likewise.
    wrong += [
        f"{model.__name__}.{name}: {key}"
        for model in apps.get_models()
        for name in dir(model)
        if name.endswith("_BADGES") and name != "STATUS_BADGES"
        for key in getattr(model, name)
        if key not in dict(model._meta.get_field(name.removesuffix("_BADGES").lower()).choices)
    ]
    assert not wrong


def test_a_ticket_priority_badge_reads_its_colour_from_the_model():
    from core.templatetags.badges import status_badge
    from support.models import Ticket

    high = Ticket(priority=Ticket.Priority.HIGH)
    assert status_badge(high, "priority") == '<span class="badge text-bg-danger">High</span>'
    low = Ticket(priority=Ticket.Priority.LOW)
    assert status_badge(low, "priority") == ('<span class="badge text-bg-light border">Low</span>')


# The base view's behaviour, on a view of its own -----------------------------------------------


class _Form(forms.Form):
    name = forms.CharField()
    reason = forms.CharField(required=False)


class _Unavailable(Exception):
    pass


class _Record:
    def get_absolute_url(self) -> str:
        return "/somewhere/"


class _View(WriteView):
    permission_required = ()
    form_class = _Form
    title = "Rename"
    expected_errors = (_Unavailable,)

    def get_object(self):
        return _Record()

    def act(self, form):
        name = form.cleaned_data["name"]
        if name == "taken":
            raise ValidationError("That name is taken.", code="taken")
        if name == "why":
            raise ValidationError("Say why.", code="reason_required")
        if name == "later":
            raise _Unavailable("The printer is out of paper.")
        return None

    def get_success_message(self, result):
        return "Renamed."


def _post(admin_user, data):
    request = RequestFactory().post("/rename/", data)
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    return _View.as_view()(request)


@pytest.mark.django_db
def test_a_write_view_redirects_with_its_message(admin_user):
    response = _post(admin_user, {"name": "new"})
    assert response.status_code == 302 and response["Location"] == "/somewhere/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "where", "text"),
    [
        ("taken", None, "That name is taken."),
        ("why", "reason", "Say why."),
        ("later", None, "The printer is out of paper."),
    ],
)
def test_a_refusal_comes_back_on_the_form_with_the_input(admin_user, name, where, text):
    response = _post(admin_user, {"name": name})
    assert response.status_code == 400
    form = response.context_data["form"] if hasattr(response, "context_data") else None
    html = response.content.decode()
    assert text in html and f'value="{name}"' in html
    if form is not None:
        assert text in (form.errors.get(where) or form.non_field_errors())


@pytest.mark.django_db
def test_an_unexpected_failure_is_not_turned_into_a_form_error(admin_user):
    class _Broken(_View):
        def act(self, form):
            raise RuntimeError("a bug")

    request = RequestFactory().post("/rename/", {"name": "x"})
    request.user = admin_user
    with pytest.raises(RuntimeError):
        _Broken.as_view()(request)
