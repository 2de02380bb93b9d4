"""Fixtures for the stand-in's own tests: a fresh stand-in per test, clients, a webhook receiver."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.o2_standin import StandIn

from .helpers import ROOT_EMAIL, ROOT_PASSWORD, Receiver

_STOPPERS: list[threading.Thread] = []


@pytest.fixture(scope="session", autouse=True)
def _join_stoppers() -> Iterator[None]:
    yield
    for t in _STOPPERS:
        t.join(timeout=10)


@pytest.fixture
def make_standin() -> Iterator[Callable[..., Any]]:
    """Start stand-ins; stop them after the test, in the background (a stop waits for the serve loop)."""
    started: list[Any] = []

    def make(**kw: Any) -> Any:
        s = StandIn(root_email=ROOT_EMAIL, root_password=ROOT_PASSWORD, **kw)
        s.start()
        started.append(s)
        return s

    yield make
    for s in started:
        t = threading.Thread(target=s.stop, daemon=True)
        t.start()
        _STOPPERS.append(t)


@pytest.fixture
def standin(make_standin: Callable[..., Any]) -> Any:
    """Default stand-in: SSRF guard on (no loopback)."""
    return make_standin(allow_loopback=False, skip_ssrf_checks=False)


@pytest.fixture
def lstandin(make_standin: Callable[..., Any]) -> Any:
    """Stand-in with ZO_SSRF_ALLOW_LOOPBACK=true, so destinations may point at a local receiver."""
    return make_standin(allow_loopback=True, skip_ssrf_checks=False)


# One TLS context for every client (building one costs ~30 ms), and no keep-alive: a reused
# connection to the stand-in costs ~40 ms a request (delayed ACK), a fresh one ~3 ms.
_TLS = ssl.create_default_context()
_NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)


def _client(url: str, auth: tuple[str, str] | None = (ROOT_EMAIL, ROOT_PASSWORD)) -> httpx.Client:
    return httpx.Client(base_url=url, auth=auth, timeout=15.0, verify=_TLS, limits=_NO_KEEPALIVE)


@pytest.fixture
def client(standin: Any) -> Iterator[httpx.Client]:
    with _client(standin.url) as c:
        yield c


@pytest.fixture
def lclient(lstandin: Any) -> Iterator[httpx.Client]:
    with _client(lstandin.url) as c:
        yield c


@pytest.fixture
def anon(standin: Any) -> Iterator[httpx.Client]:
    """A client with no credentials."""
    with _client(standin.url, auth=None) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
