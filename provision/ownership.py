"""How resources this tool manages are marked on the server, and recognised again.

O2 has no labels on most resources, so each kind carries the mark where its schema has room:
folders and dashboards in their description, alerts as a tag, destinations in their metadata,
model prices in their description, alert templates by their name prefix.
"""

from __future__ import annotations

from typing import Any

from provision.kinds import Kind

MANAGER = "o2-provision"
NOTE = "Managed by o2-provision."
TAG = "o2-provision"
METADATA_KEY = "managed_by"
TEMPLATE_PREFIX = "pipecat_"


def mark(kind: Kind, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with this tool's mark added."""
    marked = dict(payload)
    if kind in (Kind.FOLDER, Kind.DASHBOARD, Kind.MODEL_PRICE):
        description = str(marked.get("description") or "")
        if NOTE not in description:
            marked["description"] = f"{description} {NOTE}".strip()
    elif kind is Kind.ALERT:
        tags = [str(t) for t in marked.get("tags") or []]
        if TAG not in tags:
            tags.append(TAG)
        marked["tags"] = tags
    elif kind is Kind.DESTINATION:
        metadata = dict(marked.get("metadata") or {})
        metadata[METADATA_KEY] = MANAGER
        marked["metadata"] = metadata
    return marked


def is_managed(kind: Kind, obj: dict[str, Any]) -> bool:
    """Whether a server object carries this tool's mark."""
    if kind in (Kind.FOLDER, Kind.DASHBOARD, Kind.MODEL_PRICE):
        return NOTE in str(obj.get("description") or "")
    if kind is Kind.ALERT:
        return TAG in (obj.get("tags") or [])
    if kind is Kind.DESTINATION:
        return (obj.get("metadata") or {}).get(METADATA_KEY) == MANAGER
    return str(obj.get("name", "")).startswith(TEMPLATE_PREFIX)
