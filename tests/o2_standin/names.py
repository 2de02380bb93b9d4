"""Shared name rules for alerts, destinations and templates."""

from __future__ import annotations

import re

FORBIDDEN = re.compile(r"[:#?\s'\"%&]+")


def bad_resource_name(name: str) -> bool:
    return bool(FORBIDDEN.search(name)) or "/" in name
