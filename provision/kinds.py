"""The kinds of O2 resource this tool manages, in the order they depend on each other."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    FOLDER = "folder"
    ALERT_TEMPLATE = "alert_template"
    DESTINATION = "destination"
    MODEL_PRICE = "model_price"
    DASHBOARD = "dashboard"
    ALERT = "alert"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def template_dir(self) -> str:
        """The folder under templates/ that holds this kind's templates."""
        return self.value + "s"


# What each kind refers to by name or id, so must exist before it (and outlive it).
DEPENDS_ON: dict[Kind, tuple[Kind, ...]] = {
    Kind.FOLDER: (),
    Kind.ALERT_TEMPLATE: (),
    Kind.DESTINATION: (Kind.ALERT_TEMPLATE,),
    Kind.MODEL_PRICE: (),
    Kind.DASHBOARD: (Kind.FOLDER,),
    Kind.ALERT: (Kind.FOLDER, Kind.DESTINATION),
}

# Creation order: a kind only refers to kinds before it. Deletion runs in reverse.
APPLY_ORDER: tuple[Kind, ...] = (
    Kind.FOLDER,
    Kind.ALERT_TEMPLATE,
    Kind.DESTINATION,
    Kind.MODEL_PRICE,
    Kind.DASHBOARD,
    Kind.ALERT,
)


def _depth(kind: Kind) -> int:
    return max((_depth(d) + 1 for d in DEPENDS_ON[kind]), default=0)


# APPLY_ORDER grouped into waves: the kinds of one wave do not depend on each other, so their writes can
# all run at once (folders, templates, prices; then destinations and dashboards; then alerts).
APPLY_WAVES: tuple[tuple[Kind, ...], ...] = tuple(
    tuple(k for k in APPLY_ORDER if _depth(k) == depth) for depth in range(max(map(_depth, APPLY_ORDER)) + 1)
)
