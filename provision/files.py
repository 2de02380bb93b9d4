"""Writing files all at once: either every file lands, or none does."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from provision.errors import InputError
from provision.render import Bundle

MARKER = ".o2-provision-render"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def write_rendered(out: Path, bundle: Bundle) -> list[Path]:
    """Write each payload to out/<kind>/<name>.json, replacing what a previous render wrote."""
    files = {
        Path(r.kind.template_dir) / f"{slug(r.key)}.json": json.dumps(r.payload, indent=2, sort_keys=True) + "\n"
        for r in bundle.resources
    }
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InputError(f"--out {out} is not empty and was not written by o2-provision render")

    def fill(staging: Path) -> None:
        (staging / MARKER).write_text("written by o2-provision render\n", encoding="utf-8")
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    _replace_tree(out, fill)
    return [out / relative for relative in files]


def write_new(path: Path, text: str, *, force: bool) -> None:
    """Create a file atomically; refuse to overwrite one unless forced."""
    if path.exists() and not force:
        raise InputError(f"{path} already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_templates(source: Path, target: Path, *, force: bool) -> None:
    """Copy the template tree (without Python files) into target, all at once."""
    if target.exists() and any(target.iterdir()) and not force:
        raise InputError(f"{target} is not empty (use --force to overwrite)")
    _replace_tree(
        target,
        lambda staging: shutil.copytree(
            source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__")
        ),
    )


def write_templates(
    source: Path, target: Path, files: dict[str, str], *, force: bool, check: Callable[[Path], None]
) -> None:
    """A copy of the template tree with `files` (relative path → text) written over it; `check` sees the
    finished tree before it replaces target, and target is left as it was when it raises."""
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InputError(f"{target} is not empty (use --force to overwrite)")

    def fill(staging: Path) -> None:
        shutil.copytree(source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.py", "__pycache__", ".*"))
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        check(staging)

    _replace_tree(target, fill)


def _replace_tree(target: Path, fill: Callable[[Path], object]) -> None:
    """Build the new tree beside target, then swap it in; on any failure target is left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
