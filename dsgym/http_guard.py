"""Checks that keep web pages away from dsgym's local servers (``dsgym serve``, ``dsgym view --serve``).

A server on 127.0.0.1 is reachable from any page the user's browser opens: the page
can open a WebSocket to it or POST a ``text/plain`` form (neither needs a CORS
preflight), and with DNS rebinding (``evil.example`` made to resolve to 127.0.0.1)
it can even read the answers.  So a request is refused when

- its ``Host`` names something other than this machine (DNS rebinding), where the
  server is bound to loopback;
- it carries an ``Origin`` other than the server's own, or ``Sec-Fetch-Site`` says
  another site sent it (browsers set both; programs such as trainers set neither).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = {"localhost"}
OWN_FETCH_SITES = {"same-origin", "none"}  # Sec-Fetch-Site values of requests a page did not send cross-site


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, no port) is this machine's loopback."""
    host = host.strip("[]").rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str | None:
    """The name or address in a ``Host`` header (no port, no brackets), or None if it does not parse."""
    try:
        name = urlsplit(f"//{host_header.strip()}").hostname
    except ValueError:
        return None
    return name or None


def refusal(headers: dict[str, str], *, loopback_only: bool) -> str | None:
    """Why a request with these (lower-cased) headers must be refused, or None when it may go on."""
    host = headers.get("host", "")
    if loopback_only and not is_loopback(host_name(host) or ""):
        return f"Host {host!r} is not this machine (DNS rebinding?)"
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, host):
        return f"cross-site request from Origin {origin!r}"
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in OWN_FETCH_SITES:
        return f"cross-site request (Sec-Fetch-Site: {fetch_site})"
    return None


def same_origin(origin: str, host_header: str) -> bool:
    """Whether ``origin`` (``scheme://host[:port]``) is the server's own, as named by the ``Host`` header."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host_header) and parts.netloc.lower() == host_header.lower()
