"""Templates plus values → the exact JSON payloads O2 takes, one `Desired` resource each."""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from provision import ownership
from provision.errors import InputError
from provision.kinds import APPLY_ORDER, Kind
from provision.values import Values, build, load_file

FOLDER_TYPES = ("dashboards", "alerts")


@dataclass(frozen=True)
class Desired:
    """One resource as the templates declare it."""

    kind: Kind
    key: str  # identity within its kind: a name, a title, or "<type>/<name>" for folders
    payload: dict[str, Any]
    source: str  # the template it came from


@dataclass(frozen=True)
class Bundle:
    """Everything the templates declare, in dependency order."""

    values: Values
    resources: list[Desired]
    notes: list[str]

    def of(self, kind: Kind) -> list[Desired]:
        return [r for r in self.resources if r.kind is kind]


def builtin_templates() -> Path:
    """The templates shipped inside the package."""
    return Path(str(resources.files("provision.templates")))


def load_values(root: Path, files: list[Path], assignments: dict[str, Any]) -> Values:
    """Defaults from the templates' values.yaml (else the built-in one), then files, then `--set`."""
    defaults_file = root / "values.yaml"
    if not defaults_file.is_file():
        defaults_file = builtin_templates() / "values.yaml"
    layers = [(str(defaults_file), load_file(defaults_file))] + [(str(f), load_file(f)) for f in files]
    return build([*layers, ("--set", assignments)])


def render_bundle(root: Path, values: Values) -> Bundle:
    """Render every template under root with the values."""
    if not root.is_dir():
        raise InputError(f"templates folder {root} does not exist")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["tojson"] = _tojson
    context = values.context()
    notes: list[str] = []
    out: list[Desired] = []
    for folder_type in FOLDER_TYPES:
        payload = {"name": values.folder, "description": ""}
        out.append(
            Desired(
                Kind.FOLDER,
                f"{folder_type}/{values.folder}",
                ownership.mark(Kind.FOLDER, payload),
                "values.yaml",
            )
        )

    rendered: dict[Kind, list[Desired]] = {}
    for kind in APPLY_ORDER:
        if kind is Kind.FOLDER:
            continue
        if kind is Kind.ALERT:
            context["destinations"] = [d.key for d in rendered.get(Kind.DESTINATION, [])]
        items = _render_kind(env, root, kind, context)
        if kind is Kind.ALERT and items and not context["destinations"]:
            notes.append(
                "alerts need a destination: set webhook_url, slack_webhook_url or alert_emails; "
                f"{len(items)} alert(s) left out"
            )
            items = []
        rendered[kind] = items
        out.extend(items)
    _check_unique(out)
    return Bundle(values=values, resources=out, notes=notes)


@jinja2.pass_eval_context  # called as Jinja's own tojson is, so compiled templates in the cache still work
def _tojson(_eval_ctx: Any, value: Any, indent: int | None = None) -> str:
    """Jinja's ``tojson`` without its HTML escaping (``<`` → ``\\u003c`` …): these are JSON payloads, not pages.

    The parsed payload is the same either way; the escaping made ``tojson`` the largest cost of rendering.
    """
    return json.dumps(value, indent=indent, ensure_ascii=False)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (keyed by their source); none where the cache dir is not writable."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "o2-provision" / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def _render_kind(env: jinja2.Environment, root: Path, kind: Kind, context: dict[str, Any]) -> list[Desired]:
    folder = root / kind.template_dir
    if not folder.is_dir():
        return []
    result = []
    for path in sorted(folder.glob("*.j2")):
        name = f"{kind.template_dir}/{path.name}"
        if kind is Kind.MODEL_PRICE:
            for price in context["model_prices"]:
                result.extend(_render_one(env, kind, name, {**context, "price": price}))
        else:
            result.extend(_render_one(env, kind, name, context))
    return result


def _render_one(env: jinja2.Environment, kind: Kind, name: str, context: dict[str, Any]) -> list[Desired]:
    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"{name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise InputError(f"{name}:{_template_line(exc, name)}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise InputError(f"{name}: {exc}") from None
    if not text.strip():
        return []  # a template may declare nothing, e.g. a destination whose URL is not set
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} rendered invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(payload, dict):
        raise InputError(f"{name} must render a JSON object, got {type(payload).__name__}")
    key_field = "title" if kind is Kind.DASHBOARD else "name"
    key = payload.get(key_field)
    if not isinstance(key, str) or not key.strip():
        raise InputError(f"{name}: {key_field} is missing or empty")
    return [Desired(kind, key, ownership.mark(kind, payload), name)]


def _template_line(exc: BaseException, name: str) -> str:
    lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.endswith(name)]
    return str(lines[-1]) if lines and lines[-1] is not None else "?"


def _check_unique(items: list[Desired]) -> None:
    seen: dict[tuple[Kind, str], str] = {}
    for item in items:
        identity = (item.kind, item.key)
        if identity in seen:
            raise InputError(
                f"{item.source}: {item.kind.label} {item.key!r} is declared twice (also by {seen[identity]})"
            )
        seen[identity] = item.source
