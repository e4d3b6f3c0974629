import pytest
from django.test import RequestFactory

from audit.middleware import client_ip, request_id_for

PROXIES = ["10.0.0.0/8", "192.0.2.10"]


def _request(remote="198.51.100.7", forwarded=None, **headers):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    meta.update(headers)
    return RequestFactory().get("/", **meta)


def test_client_ip_is_remote_addr_without_trusted_proxies():
    request = _request(forwarded="1.2.3.4")
    assert client_ip(request, trusted_proxies=[]) == "198.51.100.7"


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer():
    request = _request(remote="198.51.100.7", forwarded="1.2.3.4")
    assert client_ip(request, trusted_proxies=PROXIES) == "198.51.100.7"


def test_client_ip_takes_the_right_most_untrusted_hop_never_the_first():
    # The client forged "6.6.6.6"; our proxies saw 203.0.113.5 connect.
    request = _request(remote="10.0.0.2", forwarded="6.6.6.6, 203.0.113.5, 192.0.2.10")
    assert client_ip(request, trusted_proxies=PROXIES) == "203.0.113.5"


def test_client_ip_falls_back_to_the_nearest_trusted_hop_on_garbage():
    request = _request(remote="10.0.0.2", forwarded="<script>, 10.1.1.1")
    assert client_ip(request, trusted_proxies=PROXIES) == "10.1.1.1"


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123-DEF.456", True),
        ("short", False),
        ("has space in it", False),
        ("<script>alert(1)</script>", False),
        ("x" * 65, False),
    ],
)
def test_request_id_reuses_only_well_formed_incoming_ids(incoming, kept):
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming, REMOTE_ADDR="10.0.0.2")
    assert (request_id_for(request, trusted_proxies=PROXIES) == incoming) is kept


def test_request_id_from_anyone_but_our_proxies_is_replaced():
    request = RequestFactory().get(
        "/", HTTP_X_REQUEST_ID="chosen-by-the-client", REMOTE_ADDR="198.51.100.7"
    )
    assert request_id_for(request, trusted_proxies=PROXIES) != "chosen-by-the-client"
    assert request_id_for(request, trusted_proxies=[]) != "chosen-by-the-client"


@pytest.mark.django_db
def test_every_response_echoes_a_request_id(staff_client):
    response = staff_client.get("/")
    assert len(response["X-Request-ID"]) == 32
