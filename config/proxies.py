"""The visitor's address and scheme when Agora runs behind a reverse proxy (AGORA_TRUSTED_PROXIES).

The ASGI server trusts no X-Forwarded-* header (config/processes.py), so REMOTE_ADDR is the peer.
Behind a proxy (haproxy, nginx, a load balancer) the peer is the proxy, and every per-address
limit (the arena's prompts and votes, failed logins) would count all visitors as one. When the
peer is one of the trusted proxies, this middleware takes the visitor's address from
X-Forwarded-For — the rightmost address that is not itself a trusted proxy, since a client can
write anything to the left of what the proxies appended — and keeps X-Forwarded-Proto for
SECURE_PROXY_SSL_HEADER. From any other peer both headers are dropped, so a visitor who reaches
the web server directly can neither pick an address nor claim HTTPS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(values: Iterable[str]) -> list[Network]:
    """Addresses or networks ("10.0.0.5", "172.16.0.0/12"); a value that is neither stops the start."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"AGORA_TRUSTED_PROXIES: {value.strip()!r} is not an IP address or network "
                "(e.g. 10.0.0.5 or 172.16.0.0/12)"
            ) from None
    return networks


def _trusted(address: str, networks: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str, networks: list[Network]) -> str:
    """The visitor's address: the peer, or when the peer is a trusted proxy, the last untrusted hop."""
    if not networks or not _trusted(peer, networks):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a hop that is not an address: the chain cannot be read, keep the proxy's
    return peer


class TrustedProxyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.networks = proxy_networks(settings.AGORA_TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = meta.get("REMOTE_ADDR") or ""
        if self.networks and _trusted(peer, self.networks):
            meta["REMOTE_ADDR"] = client_address(peer, meta.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
        else:
            meta.pop("HTTP_X_FORWARDED_PROTO", None)
        return self.get_response(request)
