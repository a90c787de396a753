"""Who the client is, for the per-address limits: the TCP peer, or what a trusted proxy says.

A client may send any ``X-Forwarded-For`` it likes, so the header is believed only when the
connection comes from a proxy listed in ``FORWARDED_ALLOW_IPS`` (addresses or CIDRs, ``*``
for any; empty, the default, believes nobody). Then, as uvicorn does, the addresses the
proxies appended are read from the right, and the first one that is not itself a trusted
proxy is the client: entries further left were written by the client and are never
reached. ``FORWARDED_HEADER`` names the one header the proxies write (``X-Forwarded-For``,
or RFC 7239's ``Forwarded``); reading both would let a client forge the one its proxy
passes through untouched.

Only logins and registrations ask (nothing is parsed on other requests), and uvicorn must
not rewrite the peer itself: the gateway is served with ``--no-proxy-headers``.
"""

from __future__ import annotations

import ipaddress

from starlette.types import Scope

# A key for a client that proxies describe with something longer is cut to this.
_MAX_ADDRESS_LENGTH = 64

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """``of(scope)``: the client's address as the per-address limits key it."""

    def __init__(self, forwarded_allow_ips: str, header: str = "X-Forwarded-For") -> None:
        entries = [e.strip() for e in forwarded_allow_ips.split(",") if e.strip()]
        self._trust_all = "*" in entries
        # Raises ValueError (the gateway does not start) on an entry that is not an address.
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(e, strict=False) for e in entries if e != "*")
        self.header = header.strip().lower().encode("latin-1")
        if self.header not in (b"x-forwarded-for", b"forwarded"):
            raise ValueError(f"FORWARDED_HEADER must be X-Forwarded-For or Forwarded, "
                             f"not {header!r}")
        self._enabled = self._trust_all or bool(self._networks)

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self._enabled or not self.trusted(peer):
            return peer
        chain = self._chain(scope["headers"])
        for address in reversed(chain):
            if not self.trusted(address):
                return address
        return chain[0] if chain else peer

    def trusted(self, address: str) -> bool:
        if self._trust_all:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def _chain(self, headers: list[tuple[bytes, bytes]]) -> list[str]:
        """The addresses the header lists, left (first hop) to right (last proxy)."""
        values = [value.decode("latin-1") for name, value in headers if name == self.header]
        elements = ",".join(values).split(",")
        if self.header == b"forwarded":
            elements = [_forwarded_for(element) for element in elements]
        return [a for a in (_bare_address(e) for e in elements) if a]


def _forwarded_for(element: str) -> str:
    """The ``for=`` of one ``Forwarded`` element (``for=192.0.2.1;proto=https``)."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.lower() == "for":
            return value.strip().strip('"')
    return ""


def _bare_address(text: str) -> str:
    """An address without brackets or port (``[2001:db8::1]:4711``, ``192.0.2.1:80``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text[:_MAX_ADDRESS_LENGTH]
