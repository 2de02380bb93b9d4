"""What may be printed: known secrets, URL passwords and unprintable characters taken out, one line at a time."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import IO

# Control characters (C0, DEL, C1), lone surrogates (undecodable bytes in the environment), line and
# paragraph separators, and the bidirectional overrides that can make a terminal show other text.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Up to the last '@' before the path: a password may hold '#' or '?' that a URL parser would cut at.
USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s]*@")
# Everything unprintable but newline and tab: terminal escapes, carriage returns, bidi overrides.
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_LINE = 500

_SECRETS: set[str] = set()


def protect(secrets: Iterable[str]) -> None:
    """Never print these strings (the token in its forms, a password): they are replaced by ***."""
    _SECRETS.update(s for s in secrets if len(s) >= 3)


def scrub_url(text: str) -> str:
    """Text with the userinfo (`user:password@`) of every URL in it replaced by `***@`."""
    return USERINFO.sub(r"\1***@", text)


def clean(text: str) -> str:
    """Text without the known secrets, URL userinfo or unprintable characters."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return _UNSAFE_IN_TEXT.sub("", scrub_url(text))


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """Text cleaned, its lines joined into one and cut to limit characters."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class Guarded(io.TextIOBase):
    """A text stream that cleans each line before it reaches the real stream (stdout or stderr)."""

    def __init__(self, target: IO[str]) -> None:
        self.target = target
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self.target.write(clean(complete + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.target.write(clean(self._pending))
            self._pending = ""
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")
