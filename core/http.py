"""The client's address behind our own proxies: one rule for the audit trail, the sign-in
throttle and the metrics endpoint (``AUDIT_TRUSTED_PROXIES``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_ip(request: HttpRequest, trusted_proxies: Iterable[str] | None = None) -> str:
    """The address of the client, as far as we can trust it.

    ``REMOTE_ADDR`` is the peer. Only when that peer is one of our trusted proxies do we read
    ``X-Forwarded-For``, walking it from the right (the hops our own proxies appended) and
    stopping at the first address that is not a trusted proxy. The left-most hop is whatever the
    client chose to send and is never believed.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = tuple(settings.AUDIT_TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies)
    networks = _trusted_networks(proxies)
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    nearest = remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return nearest  # garbage past our proxies: keep the last address we could vouch for
        if not _is_trusted(hop, networks):
            return hop
        nearest = hop
    return nearest
