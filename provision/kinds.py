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


# Creation order: a kind only refers to kinds before it. Deletion runs in reverse.
APPLY_ORDER: tuple[Kind, ...] = (
    Kind.FOLDER,
    Kind.ALERT_TEMPLATE,
    Kind.DESTINATION,
    Kind.MODEL_PRICE,
    Kind.DASHBOARD,
    Kind.ALERT,
)
