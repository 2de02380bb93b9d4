"""SSRF guard for destination URLs (§6.1): save-time and send-time checks."""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse

_BLOCKED_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "0.0.0.0/8",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fe80::/10",
        "fc00::/7",
        "2001:db8::/32",
    )
]
_BLOCKED_SUFFIXES = (".local", ".localdomain", ".lan", ".internal")


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_loopback


def _blocked_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return True
    return any(ip.version == n.version and ip in n for n in _BLOCKED_NETS)


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    out = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        try:
            out.append(ipaddress.ip_address(addr))
        except ValueError:
            continue
    return out


def check_url(url: str, *, allow_loopback: bool = False) -> str | None:
    """Return the refusal reason, or None when the URL is allowed."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return f"invalid URL: {url}"
    if parts.scheme not in ("http", "https"):
        return f"scheme '{parts.scheme}' is not allowed, only http and https"
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return "URL has no host"
    is_literal = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        is_literal = False
    if not is_literal:
        if host == "localhost" or host.endswith(".localhost"):
            if not allow_loopback:
                return f"host '{host}' is not allowed"
        elif host.endswith(_BLOCKED_SUFFIXES) or host == "metadata" or host.startswith("metadata."):
            return f"host '{host}' is not allowed"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "invalid port"
    addrs = _resolve(host, port)
    if not addrs:
        return f"host '{host}' did not resolve to any address"
    for ip in addrs:
        if allow_loopback and _is_loopback(ip):
            continue
        if _blocked_ip(ip):
            return f"host '{host}' resolves to a private or reserved address {ip}"
    return None


def save_time_reason(url: str, *, allow_loopback: bool, skip: bool) -> str | None:
    if allow_loopback or skip:
        return None
    return check_url(url)


def send_time_reason(url: str, *, allow_loopback: bool, skip: bool) -> str | None:
    if skip:
        return None
    return check_url(url, allow_loopback=allow_loopback)
