"""Fixtures: the rendered dashboards (default values and another stream/folder) and their panel SQL."""

from __future__ import annotations

from typing import Any

import pytest

from provision.kinds import Kind
from provision.render import Bundle, builtin_templates, load_values, render_bundle

TITLES = ("Pipecat · Turn latency", "Pipecat · Tokens and sessions")
OTHER = {"stream": "pipecat-prod", "folder": "Voice bots", "target_voice_to_voice_ms": 650}


def render(assignments: dict[str, Any]) -> Bundle:
    root = builtin_templates()
    return render_bundle(root, load_values(root, [], assignments))


def dashboards(bundle: Bundle) -> dict[str, dict[str, Any]]:
    return {d.key: d.payload for d in bundle.of(Kind.DASHBOARD)}


@pytest.fixture(scope="session")
def default_bundle() -> Bundle:
    return render({})


@pytest.fixture(scope="session")
def other_bundle() -> Bundle:
    return render(OTHER)


@pytest.fixture(scope="session")
def latency(default_bundle: Bundle) -> dict[str, Any]:
    return dashboards(default_bundle)[TITLES[0]]


@pytest.fixture(scope="session")
def tokens(default_bundle: Bundle) -> dict[str, Any]:
    return dashboards(default_bundle)[TITLES[1]]
