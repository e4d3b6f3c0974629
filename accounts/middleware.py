"""Sign-in middleware: the second factor first, idle and absolute session limits, headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse

from accounts.policy import enrolled, must_verify, second_factor_required
from accounts.signals import LAST_SEEN, SIGNED_IN_AT
from audit.models import StaffSession
from audit.services import record_staff_session

# Paths open to a signed-in user who has not passed the second factor yet.
OPEN_PREFIXES = ("/accounts/enrol/", "/accounts/verify/", "/login/", "/logout/")
OPEN_EXACT = ("/healthz", "/readyz", "/metrics")

REPLAY = "accounts_replay"
# Last activity is written back at most this often (each write is a session save).
TOUCH_SECONDS = 60


def _is_open(path: str) -> bool:
    static = "/" + settings.STATIC_URL.lstrip("/")
    return (
        path.startswith(OPEN_PREFIXES)
        or path.rstrip("/") in OPEN_EXACT
        or path.startswith(static)
        or path == "/favicon.ico"
    )


def _redirect(request: HttpRequest, url_name: str) -> HttpResponse:
    url = f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}"
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class SecondFactorMiddleware:
    """A user who must use a second factor does nothing else until they have.

    Enrolled (or required and enrolled): the verify page. Required and not enrolled: the
    enrolment page. After ``django_otp.middleware.OTPMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not _is_open(request.path) and must_verify(user):
            if enrolled(user) or not second_factor_required(user):
                return _redirect(request, "accounts:verify")
            return _redirect(request, "accounts:enrol")
        return self.get_response(request)


class SessionLimitsMiddleware:
    """Idle timeout and absolute lifetime of a signed-in session.

    An expired session is signed out and sent to the login page with ``next``. A POST that
    arrives after expiry (its CSRF token already checked: this runs after CsrfViewMiddleware)
    is kept in the new session and replayed, for the same user, once they have signed in again:
    the view gets the form exactly as typed (saved, or shown again with its errors).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> Any:
        user = request.user
        if not user.is_authenticated or _is_open(request.path):
            return None
        session = request.session
        now = int(time.time())
        last_seen = session.get(LAST_SEEN, now)
        signed_in_at = session.get(SIGNED_IN_AT, now)
        idle = now - last_seen > settings.SESSION_IDLE_SECONDS
        too_old = now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS
        if idle or too_old:
            return self._expire(request, keep_post=idle)
        if SIGNED_IN_AT not in session:
            session[SIGNED_IN_AT] = now
        if now - last_seen >= TOUCH_SECONDS or LAST_SEEN not in session:
            session[LAST_SEEN] = now
        replay = session.get(REPLAY)
        if replay and request.method == "GET":
            del session[REPLAY]
            if replay["path"] == request.path and replay["user"] == user.pk:
                self._replay(request, replay)
        return None

    def _expire(self, request: HttpRequest, *, keep_post: bool) -> HttpResponse:
        user = request.user
        keep = None
        if keep_post and request.method == "POST" and not request.FILES:
            keep = {"path": request.path, "user": user.pk, "post": request.POST.urlencode()}
        record_staff_session(kind=StaffSession.Kind.IDLE, request=request, user=user)
        logout(request)
        if keep:
            request.session[REPLAY] = keep
        return _redirect(request, "login")

    @staticmethod
    def _replay(request: HttpRequest, replay: dict[str, Any]) -> None:
        # The data passed the CSRF check when it was posted; this request is the same user's
        # GET of the same page right after signing in again.
        request.method = "POST"
        request.POST = QueryDict(replay["post"])
        request._dont_enforce_csrf_checks = True


class PermissionsPolicyMiddleware:
    """``Permissions-Policy``: no camera, microphone, geolocation, payment or USB for any page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
