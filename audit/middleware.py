"""Attach who/where/which-request to every write made while handling a request."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

import audit.context
from audit.context import ADMIN, WEB
from core.http import _is_trusted, _trusted_networks
from core.http import client_ip as client_ip

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is reused only when it is short and plain; anything else could smuggle
# markup or log-injection into the trail, so a fresh one is generated instead.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")
USER_AGENT_MAX = 400


def request_id_for(request: HttpRequest, trusted_proxies: Iterable[str] | None = None) -> str:
    """The request's id: a well-formed ``X-Request-ID`` set by one of our proxies, or a new one.

    Anyone else's header is ignored: a client must not choose the id the trail records.
    """
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    proxies = tuple(settings.AUDIT_TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies)
    peer = request.META.get("REMOTE_ADDR", "") or ""
    if _REQUEST_ID_RE.match(incoming) and _is_trusted(peer, _trusted_networks(proxies)):
        return incoming
    return uuid.uuid4().hex


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")


def channel_for(request: HttpRequest) -> str:
    return ADMIN if request.path.startswith(_admin_prefix()) else WEB


class AuditMiddleware:
    """Open the root audit context of every request: who, from where, which request.

    Every write made while handling the request (form saves, admin actions, bulk updates) carries
    this metadata; each service call adds its own action and reason on top (``audit.context``).
    The request id is echoed back so a support conversation can point at the exact entry.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        user = getattr(request, "user", None)
        signed_in = user if user is not None and user.is_authenticated else None
        return {
            "user": signed_in.pk if signed_in is not None else None,
            "username": signed_in.get_username() if signed_in is not None else "",
            "url": request.path,
            "ip": client_ip(request),
            "user_agent": request.headers.get("User-Agent", "")[:USER_AGENT_MAX],
            "request_id": request.request_id,  # type: ignore[attr-defined]  # set in __call__
            "method": request.method,
            "channel": channel_for(request),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_for(request)  # type: ignore[attr-defined]  # ours
        with audit.context.root(**self.get_context(request)):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]  # above
        return response
