"""pytest fixtures for the O2 stand-in. Import into conftest.py:

from tests.o2_standin.fixtures import o2  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .standin import StandIn

ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "Complexpass#123"


def make_standin(**kwargs: object) -> StandIn:
    opts: dict[str, object] = {
        "root_email": ROOT_EMAIL,
        "root_password": ROOT_PASSWORD,
        "allow_loopback": True,
        "skip_ssrf_checks": False,
    }
    opts.update(kwargs)
    return StandIn(**opts)  # type: ignore[arg-type]


@pytest.fixture
def o2() -> Iterator[StandIn]:
    """A started stand-in (function scope), loopback destinations allowed."""
    s = make_standin()
    s.start()
    try:
        yield s
    finally:
        s.stop()
