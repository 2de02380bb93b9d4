"""Whether a string is a usable http(s) URL: for O2's address and for alert destinations alike."""

from __future__ import annotations

from urllib.parse import urlsplit

from provision.scrub import UNPRINTABLE


def url_problem(url: str) -> str | None:
    """Why url is not a usable http(s) URL, or None when it is."""
    if UNPRINTABLE.search(url) or any(c.isspace() for c in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"it does not parse: {str(exc).splitlines()[0]}"
    if parts.scheme.lower() not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "port 0 is not a port"
    return None
