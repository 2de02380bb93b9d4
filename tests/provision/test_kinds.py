"""Apply order: a kind is written only after everything it refers to, and as early as that allows."""

from __future__ import annotations

from provision.kinds import APPLY_ORDER, APPLY_WAVES, DEPENDS_ON, Kind


def test_each_kind_is_in_one_wave_after_every_kind_it_depends_on() -> None:
    wave_of = {kind: index for index, wave in enumerate(APPLY_WAVES) for kind in wave}
    assert sorted(wave_of) == sorted(Kind) == sorted(APPLY_ORDER)
    assert sum(len(wave) for wave in APPLY_WAVES) == len(Kind)
    for kind, needs in DEPENDS_ON.items():
        assert all(wave_of[need] < wave_of[kind] for need in needs), kind
        # As early as possible: right after its latest dependency.
        assert wave_of[kind] == max((wave_of[need] + 1 for need in needs), default=0), kind


def test_apply_order_lists_every_kind_after_what_it_depends_on() -> None:
    position = {kind: index for index, kind in enumerate(APPLY_ORDER)}
    for kind, needs in DEPENDS_ON.items():
        assert all(position[need] < position[kind] for need in needs), kind


def test_alerts_wait_for_destinations_but_dashboards_do_not() -> None:
    wave_of = {kind: index for index, wave in enumerate(APPLY_WAVES) for kind in wave}
    assert wave_of[Kind.DESTINATION] < wave_of[Kind.ALERT]
    assert wave_of[Kind.DASHBOARD] == wave_of[Kind.DESTINATION]
