"""OpenObserve v0.92 stand-in server for tests (see /work/shared/openobserve-api.md)."""

from .app import Notification, RequestRecord
from .standin import StandIn

__all__ = ["Notification", "RequestRecord", "StandIn"]
