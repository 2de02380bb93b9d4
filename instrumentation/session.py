"""The session a span belongs to, carried in the OpenTelemetry context.

Every span started inside :func:`session_scope` (ours, OpenInference's, anyone's) gets
``pipecat.session_id`` / ``session.id`` (and ``user.id``) from
:class:`~instrumentation.export.SessionSpanProcessor`; OpenInference's own ``using_attributes`` also
puts ``session.id`` / ``user.id`` on its spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from openinference.instrumentation import using_attributes
from opentelemetry import context as otel_context

from instrumentation.contract import OTEL_SESSION_ID, OTEL_USER_ID, SESSION_ID

_SESSION_KEY = otel_context.create_key("o2_provision.session")


@dataclass(frozen=True)
class SessionInfo:
    """A conversation's ids."""

    session_id: str
    user_id: str | None = None

    def attributes(self) -> dict[str, str]:
        """The id attributes every span of this session carries."""
        attrs = {SESSION_ID: self.session_id, OTEL_SESSION_ID: self.session_id}
        if self.user_id:
            attrs[OTEL_USER_ID] = self.user_id
        return attrs


def with_session(info: SessionInfo, ctx: otel_context.Context) -> otel_context.Context:
    """``ctx`` with ``info`` recorded in it."""
    return otel_context.set_value(_SESSION_KEY, info, ctx)


def current_session(ctx: otel_context.Context | None = None) -> SessionInfo | None:
    """The session recorded in ``ctx`` (default: the current context), if any."""
    value = otel_context.get_value(_SESSION_KEY, ctx)
    return value if isinstance(value, SessionInfo) else None


@contextmanager
def session_scope(info: SessionInfo) -> Iterator[None]:
    """Make ``info`` the current session, for our processor and for OpenInference."""
    token = otel_context.attach(with_session(info, otel_context.get_current()))
    try:
        with using_attributes(session_id=info.session_id, user_id=info.user_id or ""):
            yield
    finally:
        otel_context.detach(token)
