"""Who the client is for the per-address limits: the peer, or what a trusted proxy says."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.client_address import ClientAddress
from gateway.tests.conftest import StandIn

PROXY = "10.0.0.5"


def scope(peer: str | None, *headers: tuple[str, str]) -> dict[str, Any]:
    return {"client": (peer, 5000) if peer else None,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


def test_nobody_is_trusted_by_default() -> None:
    addresses = ClientAddress("")
    assert addresses.of(scope("203.0.113.7", ("X-Forwarded-For", "198.51.100.1"))) \
        == "203.0.113.7"


def test_a_trusted_proxy_names_the_client() -> None:
    addresses = ClientAddress("10.0.0.0/8")
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "198.51.100.1"))) == "198.51.100.1"


def test_an_untrusted_peer_is_the_client_whatever_it_sends() -> None:
    addresses = ClientAddress(PROXY)
    assert addresses.of(scope("203.0.113.7", ("X-Forwarded-For", "198.51.100.1"))) \
        == "203.0.113.7"


def test_what_the_client_wrote_left_of_its_proxy_is_never_believed() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; its proxy appended the address it saw.
    addresses = ClientAddress("10.0.0.0/8")
    chain = ("X-Forwarded-For", "1.2.3.4, 198.51.100.1, 10.0.0.9")
    assert addresses.of(scope(PROXY, chain)) == "198.51.100.1"


def test_several_header_lines_are_one_list() -> None:
    addresses = ClientAddress("10.0.0.0/8")
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "1.2.3.4"),
                              ("X-Forwarded-For", "198.51.100.1"))) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_only_is_its_first_address() -> None:
    addresses = ClientAddress("10.0.0.0/8")
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"))) == "10.0.0.1"


def test_a_trusted_proxy_without_the_header_is_the_client() -> None:
    assert ClientAddress("10.0.0.0/8").of(scope(PROXY)) == PROXY


def test_star_trusts_every_peer() -> None:
    addresses = ClientAddress("*")
    assert addresses.of(scope("203.0.113.7", ("X-Forwarded-For", "198.51.100.1"))) \
        == "198.51.100.1"


def test_forwarded_header_when_the_proxies_write_it() -> None:
    addresses = ClientAddress(f"{PROXY},2001:db8::/32", header="Forwarded")
    value = 'for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.5'
    assert addresses.of(scope(PROXY, ("Forwarded", value))) == "1.2.3.4"
    value = 'for=192.0.2.60;proto=http;by=203.0.113.43'
    assert addresses.of(scope(PROXY, ("Forwarded", value))) == "192.0.2.60"


def test_only_the_configured_header_is_read() -> None:
    # Proxies that write Forwarded pass a client's own X-Forwarded-For through untouched.
    addresses = ClientAddress(PROXY, header="Forwarded")
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "1.2.3.4"),
                              ("Forwarded", "for=198.51.100.1"))) == "198.51.100.1"


def test_addresses_are_normalised() -> None:
    addresses = ClientAddress("10.0.0.0/8")
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "[2001:DB8:0::1]:443"))) == "2001:db8::1"
    assert addresses.of(scope(PROXY, ("X-Forwarded-For", "198.51.100.1:8080"))) == "198.51.100.1"


def test_a_connection_without_peer_is_unknown() -> None:
    assert ClientAddress("").of(scope(None)) == "unknown"


@pytest.mark.parametrize("allow, header", [("not-an-address", "X-Forwarded-For"),
                                           ("10.0.0.1", "X-Real-IP")])
def test_bad_settings_stop_the_gateway(allow: str, header: str) -> None:
    with pytest.raises(ValueError):
        ClientAddress(allow, header)


async def test_per_address_limits_follow_a_trusted_proxy(gateway_client: Any) -> None:
    auth = StandIn(status=401)
    async with gateway_client({"auth": auth}, client_ip=PROXY, forwarded_allow_ips="10.0.0.0/8",
                              rate_limit_login_failures_per_ip=2) as client:
        def login(client_address: str, n: int) -> Any:
            return client.post("/api/auth/login/", json={"email": f"u{n}@example.com"},
                               headers={"X-Forwarded-For": client_address})

        assert [(await login("198.51.100.1", n)).status_code for n in range(3)] \
            == [401, 401, 429]
        assert (await login("198.51.100.2", 9)).status_code == 401


async def test_a_clients_own_forwarded_for_does_not_escape_its_limit(gateway_client: Any) -> None:
    auth = StandIn(status=401)
    async with gateway_client({"auth": auth}, client_ip="203.0.113.7", forwarded_allow_ips=PROXY,
                              rate_limit_register_per_ip=2) as client:
        statuses = [(await client.post("/api/auth/register/", json={},
                                       headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
                    for n in range(3)]
    assert statuses == [401, 401, 429]
