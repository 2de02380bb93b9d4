"""The traces stream alerts and panels depend on: is it there, and how to make it exist with every column."""

from __future__ import annotations

import json
import os
import time

from provision.client import O2Client
from provision.errors import NotFoundError, ProvisionError


def stream_exists(client: O2Client, stream: str) -> bool:
    """Whether O2 has a traces stream of that name (it appears with the first span)."""
    now_us = int(time.time() * 1_000_000)
    try:
        client.search(f'SELECT count(*) AS n FROM "{stream}"', now_us - 60_000_000, now_us)
    except ProvisionError as exc:
        if "stream not found" in exc.message.lower():
            return False
        raise
    return True


def ensure_stream(client: O2Client, stream: str) -> bool:
    """Send the instrumentation's schema marker when the stream is missing; True when it had to.

    The marker (``instrumentation.schema``) creates the stream with every column the dashboards and
    alerts read, and is left out of all of them.
    """
    if stream_exists(client, stream):
        return False
    # Imported here: the instrumentation package loads Pipecat (~2 s), which only this path needs.
    from instrumentation.schema import MARKER_SERVICE, MARKER_SPAN, marker_attributes

    now_ns = time.time_ns()
    span = {
        "traceId": os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "parentSpanId": os.urandom(8).hex(),
        "name": MARKER_SPAN,
        "kind": 1,
        "startTimeUnixNano": str(now_ns),
        "endTimeUnixNano": str(now_ns + 1_000),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in marker_attributes().items()],
        "status": {"code": 1},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": MARKER_SERVICE}}]}
    payload = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    client.request(
        "POST",
        f"/api/{client.org}/v1/traces",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "stream-name": stream},
        retry=True,
    )
    return True


def missing_stream_hint(stream: str) -> str:
    """What to do when the traces stream does not exist yet."""
    return (
        f"O2 creates the traces stream {stream!r} with its first span: run your bot (or "
        "`o2-provision demo`), or apply again with --bootstrap-stream"
    )


def explain_failure(error: ProvisionError, stream: str) -> str | None:
    """What to do about the failures a fresh O2 commonly answers with."""
    text = error.message.lower()
    if isinstance(error, NotFoundError) and "stream" in text and "not found" in text:
        return missing_stream_hint(stream)
    if "ssrf" in text:
        return (
            "O2 refuses destination URLs that are loopback, private, or do not resolve from the O2 server: "
            "use a public URL, or start O2 with ZO_SSRF_ALLOW_LOOPBACK=true"
        )
    return None
