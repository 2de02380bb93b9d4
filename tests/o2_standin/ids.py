"""Server-made identifiers: snowflake-like ids, KSUIDs, content hashes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from typing import Any

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_EPOCH = 1_400_000_000
_KSUID_RE = re.compile(r"^[0-9A-Za-z]{27}$")
_MAX_KSUID = (1 << 160) - 1

_lock = threading.Lock()
_last = [0, 0]  # last ms, sequence


def snowflake() -> str:
    """Decimal i64 string of ~19 digits, increasing."""
    with _lock:
        ms = int(time.time() * 1000) - 1_288_834_974_657
        if ms <= _last[0]:
            ms = _last[0]
            _last[1] += 1
            if _last[1] >= 4096:
                ms += 1
                _last[1] = 0
        else:
            _last[1] = 0
        _last[0] = ms
        return str((ms << 22) | (1 << 12) | _last[1])


def ksuid() -> str:
    ts = int(time.time()) - _KSUID_EPOCH
    n = int.from_bytes(ts.to_bytes(4, "big") + os.urandom(16), "big")
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out)).rjust(27, "0")


def is_ksuid(s: str) -> bool:
    if not _KSUID_RE.match(s):
        return False
    n = 0
    for ch in s:
        n = n * 62 + _B62.index(ch)
    return n <= _MAX_KSUID


def content_hash(version: int, obj: Any) -> str:
    data = json.dumps([version, obj], sort_keys=True, separators=(",", ":")).encode()
    return str(int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big"))
