"""The bundle: templates plus values, rendered and checked; no network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provision.errors import InputError
from provision.render import Bundle, builtin_templates, load_values, render_bundle
from provision.rules import check_bundle
from provision.values import parse_set


@dataclass(frozen=True)
class Sources:
    """Where the bundle comes from."""

    templates: Path | None
    values_files: list[Path]
    assignments: list[str]

    @property
    def root(self) -> Path:
        return self.templates if self.templates is not None else builtin_templates()


def load_bundle(sources: Sources) -> Bundle:
    """Render the bundle; raise InputError on any problem in values or templates."""
    values = load_values(sources.root, sources.values_files, parse_set(sources.assignments))
    return render_bundle(sources.root, values)


def validated_bundle(sources: Sources) -> Bundle:
    """Render the bundle and check it against O2's rules; nothing is written before this passes."""
    bundle = load_bundle(sources)
    problems = check_bundle(bundle)
    if problems:
        more = f" (and {len(problems) - 1} more; run `o2-provision validate`)" if len(problems) > 1 else ""
        raise InputError(problems[0] + more)
    return bundle
