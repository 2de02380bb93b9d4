"""The typed values the templates are rendered with: defaults, a values file, then `--set`."""

from __future__ import annotations

import re
import tomllib
import types
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from provision.errors import InputError

URL_RE = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class ModelPrice:
    """A model's price, in USD per million tokens; `match_pattern` is a regex on the model name."""

    name: str
    match_pattern: str
    input_per_1m: float
    output_per_1m: float
    cache_read_per_1m: float | None = None


@dataclass(frozen=True)
class Values:
    """Everything a template may refer to; documented in templates/values.yaml."""

    stream: str
    folder: str
    target_voice_to_voice_ms: int
    slow_turn_ms: int
    slow_turn_threshold: int
    alert_period_minutes: int
    alert_frequency_minutes: int
    alert_silence_minutes: int
    webhook_url: str | None
    slack_webhook_url: str | None
    alert_emails: list[str]
    model_prices: list[ModelPrice]

    def context(self) -> dict[str, Any]:
        """The values as plain data for Jinja."""
        return asdict(self)


POSITIVE = ("target_voice_to_voice_ms", "slow_turn_ms", "slow_turn_threshold")
AT_LEAST_ONE_MINUTE = ("alert_period_minutes", "alert_frequency_minutes")


def load_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML values file into a mapping."""
    if not path.is_file():
        raise InputError(f"values file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not valid {kind}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of values, not {type(data).__name__}")
    return data


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """Turn `key=value` strings into raw values (strings; typed later against the schema)."""
    result: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r} must look like key=value")
        result[key.strip()] = _SetString(value)
    return result


class _SetString(str):
    """A value that came from `--set`, so it may be converted from text to the field's type."""


def build(layers: list[tuple[str, dict[str, Any]]]) -> Values:
    """Merge (source, values) layers, later winning, and check them against the schema.

    An error names the layer the offending value came from: a file, or `--set`.
    """
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, layer in layers:
        merged.update(layer)
        origin.update(dict.fromkeys(layer, source))
    hints = get_type_hints(Values)
    known = {f.name for f in fields(Values)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise InputError(f"{origin[unknown[0]]}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})")
    missing = sorted(known - set(merged))
    if missing:
        raise InputError(f"{layers[0][0]}: missing value {missing[0]!r}")
    typed = {name: _coerce(name, merged[name], hints[name], origin[name]) for name in known}
    values = Values(**typed)
    _check(values, origin)
    return values


def _coerce(name: str, raw: Any, hint: Any, source: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if raw is None or (isinstance(raw, _SetString) and raw == ""):
            return None
        return _coerce(name, raw, options[0], source)
    if origin is list:
        (item,) = get_args(hint)
        if isinstance(raw, _SetString):
            raw = [part.strip() for part in raw.split(",") if part.strip()] if item is str else None
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise InputError(f"{source}: {name} must be a list, got {_kind(raw)}")
        return [_coerce(f"{name}[{i}]", v, item, source) for i, v in enumerate(raw)]
    if hint is ModelPrice:
        return _model_price(name, raw, source)
    if hint is bool:
        if isinstance(raw, _SetString) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if not isinstance(raw, bool):
            raise InputError(f"{source}: {name} must be true or false, got {raw!r}")
        return raw
    if hint is int:
        if isinstance(raw, _SetString):
            try:
                return int(raw)
            except ValueError:
                raise InputError(f"{source}: {name} must be a whole number, got {str(raw)!r}") from None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(f"{source}: {name} must be a whole number, got {_kind(raw)} {raw!r}")
        return raw
    if hint is float:
        if isinstance(raw, _SetString):
            try:
                return float(raw)
            except ValueError:
                raise InputError(f"{source}: {name} must be a number, got {str(raw)!r}") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise InputError(f"{source}: {name} must be a number, got {_kind(raw)} {raw!r}")
        return float(raw)
    if hint is str:
        if not isinstance(raw, str):
            raise InputError(f"{source}: {name} must be a string, got {_kind(raw)} {raw!r}")
        return str(raw)
    raise InputError(f"{source}: {name} has an unsupported type")


def _model_price(name: str, raw: Any, source: str) -> ModelPrice:
    if not isinstance(raw, dict):
        raise InputError(f"{source}: {name} must be a mapping with name, match_pattern, input_per_1m, …")
    hints = get_type_hints(ModelPrice)
    known = {f.name for f in fields(ModelPrice)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"{source}: {name} has unknown key {unknown[0]!r}")
    required = {f.name for f in fields(ModelPrice) if f.name != "cache_read_per_1m"}
    missing = sorted(required - set(raw))
    if missing:
        raise InputError(f"{source}: {name} is missing {missing[0]!r}")
    typed = {k: _coerce(f"{name}.{k}", v, hints[k], source) for k, v in raw.items()}
    return ModelPrice(**typed)


def _check(values: Values, origin: dict[str, str]) -> None:
    def fail(name: str, problem: str) -> InputError:
        return InputError(f"{origin[name]}: {name} {problem}")

    for name in POSITIVE:
        if getattr(values, name) <= 0:
            raise fail(name, f"must be greater than 0, got {getattr(values, name)}")
    for name in AT_LEAST_ONE_MINUTE:
        if getattr(values, name) < 1:
            raise fail(name, f"must be at least 1 (minutes), got {getattr(values, name)}")
    if values.alert_silence_minutes < 0:
        raise fail("alert_silence_minutes", "must not be negative")
    for name in ("stream", "folder"):
        if not getattr(values, name).strip():
            raise fail(name, "must not be empty")
    for name in ("webhook_url", "slack_webhook_url"):
        url = getattr(values, name)
        if url is not None and not URL_RE.match(url):
            raise fail(name, f"must be an http:// or https:// URL, got {url!r}")
    for email in values.alert_emails:
        if not EMAIL_RE.match(email):
            raise fail("alert_emails", f"has an invalid address {email!r}")
    seen: set[str] = set()
    for price in values.model_prices:
        if not price.name.strip():
            raise fail("model_prices", "has an entry with an empty name")
        if price.name in seen:
            raise fail("model_prices", f"has two entries named {price.name!r}")
        seen.add(price.name)
        try:
            re.compile(price.match_pattern)
        except re.error as exc:
            raise fail("model_prices", f"{price.name!r}: match_pattern is not a valid regex: {exc}") from None
        for label in ("input_per_1m", "output_per_1m", "cache_read_per_1m"):
            amount = getattr(price, label)
            if amount is not None and amount < 0:
                raise fail("model_prices", f"{price.name!r}: {label} must not be negative")


def _kind(raw: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(type(raw), type(raw).__name__)
