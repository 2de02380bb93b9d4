"""The typed values the templates are rendered with: defaults, a values file, then `--set`."""

from __future__ import annotations

import math
import re
import tomllib
import types
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from provision.errors import InputError
from provision.scrub import UNPRINTABLE
from provision.urls import url_problem

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# O2 keeps letters, digits, '_' and ':' in a stream name (format_stream_name); '-' is allowed here too
# and rewritten as O2 rewrites it. Anything else (a quote above all) would break the SQL the templates write.
STREAM_NAME = re.compile(r"^[A-Za-z0-9_:\-]+$")
O2_STREAM_REWRITE = re.compile(r"[^A-Za-z0-9_:]+")  # format_stream_name: each run becomes one '_'

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NAME = 256  # stream, folder, model price name (O2's limit for the latter)
MAX_PATTERN = 512  # O2's limit on a model price's match_pattern
MAX_URL = 2048
MAX_EMAIL = 254
I64_MAX = 2**63 - 1
# O2 turns minutes into microseconds (i64) when it evaluates an alert.
MAX_MINUTES = I64_MAX // 60_000_000


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


class _Refused(yaml.YAMLError):
    """YAML that parses but that o2-provision will not load (aliases, deep nesting)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (no alias bombs) and with bounded nesting."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            line = self._line()
            raise _Refused(f"line {line} uses a YAML alias (*name); write the value out instead")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self._line()
                raise _Refused(f"line {line} nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _line(self) -> int:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        return int(event.start_mark.line) + 1


def parse_yaml(text: str) -> Any:
    """YAML text as data, through the restricted loader."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects


def load_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML values file into a mapping."""
    if not path.exists():
        raise InputError(f"values file {path} does not exist")
    if not path.is_file():
        raise InputError(f"values file {path} is not a file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path} is {size:,} bytes; a values file may hold at most {MAX_FILE_BYTES:,}")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read values file {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    kind = "TOML" if path.suffix == ".toml" else "YAML"
    try:
        data: Any = tomllib.loads(text) if kind == "TOML" else parse_yaml(text)
    except _Refused as exc:
        raise InputError(f"{path}: {exc}") from None
    except RecursionError:
        raise InputError(f"{path} nests deeper than {MAX_DEPTH} levels") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not valid {kind}: {first}") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
        raise InputError(f"{path} is not valid {kind}: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of values, not {type(data).__name__}")
    _check_shape(data, str(path))
    return data


def _check_shape(data: Any, source: str) -> None:
    """Every mapping key a string, and no deeper than MAX_DEPTH (TOML has no nesting limit of its own)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 1)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"{source} nests deeper than {MAX_DEPTH} levels (at {where})")
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    at = f" in {where}" if where else ""
                    raise InputError(f"{source}: key {_show(key)}{at} is not a string; quote it")
                stack.append((value, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(node))


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
    # The bots send the name as they are configured; O2 stores it with '-' runs turned into '_'.
    return replace(values, stream=O2_STREAM_REWRITE.sub("_", values.stream))


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
            raw = _set_list(name, raw, item, source)
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
            raise InputError(f"{source}: {name} must be true or false, got {_show(raw)}")
        return raw
    if hint is int:
        if isinstance(raw, _SetString):
            try:
                raw = int(raw)
            except ValueError:
                raise InputError(f"{source}: {name} must be a whole number, got {_show(str(raw))}") from None
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(f"{source}: {name} must be a whole number, got {_kind(raw)} {_show(raw)}")
        if not -I64_MAX - 1 <= raw <= I64_MAX:
            raise InputError(f"{source}: {name} is outside the 64-bit range O2 stores, got {_show(raw)}")
        return raw
    if hint is float:
        if isinstance(raw, _SetString):
            try:
                raw = float(raw)
            except ValueError:
                raise InputError(f"{source}: {name} must be a number, got {_show(str(raw))}") from None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise InputError(f"{source}: {name} must be a number, got {_kind(raw)} {_show(raw)}")
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise InputError(f"{source}: {name} must be a finite number, got {_show(raw)}")
        return number
    if hint is str:
        if not isinstance(raw, str):
            raise InputError(f"{source}: {name} must be a string, got {_kind(raw)} {_show(raw)}")
        if UNPRINTABLE.search(raw):
            raise InputError(f"{source}: {name} must not contain control characters, got {_show(raw)}")
        return str(raw)
    raise InputError(f"{source}: {name} has an unsupported type")


def _set_list(name: str, raw: _SetString, item: Any, source: str) -> Any:
    """`--set key=a,b` for a list of strings; YAML flow syntax (`[...]`) for any list; empty for none."""
    text = raw.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            parsed = parse_yaml(text)
        except yaml.YAMLError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{source}: {name} is not a valid YAML flow list: {first}") from None
        _check_shape(parsed, source)
        return parsed
    if item is str:
        return [part.strip() for part in text.split(",") if part.strip()]
    raise InputError(
        f"{source}: {name} takes a YAML flow list, like "
        "[{name: m, match_pattern: '^m$', input_per_1m: 1, output_per_1m: 2}]"
    )


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
    for name in (*AT_LEAST_ONE_MINUTE, "alert_silence_minutes"):
        if getattr(values, name) > MAX_MINUTES:
            raise fail(name, f"must be at most {MAX_MINUTES} (minutes), got {getattr(values, name)}")
    for name in ("stream", "folder"):
        text = getattr(values, name)
        if not text.strip():
            raise fail(name, "must not be empty")
        if len(text) > MAX_NAME:
            raise fail(name, f"must be {MAX_NAME} characters or fewer, got {len(text)}")
    if not STREAM_NAME.match(values.stream):
        raise fail(
            "stream",
            f"may hold only letters, digits, '_', ':' and '-' (what O2 keeps in a stream name), "
            f"got {_show(values.stream)}",
        )
    for name in ("webhook_url", "slack_webhook_url"):
        url = getattr(values, name)
        if url is None:
            continue
        problem = url_problem(url) if len(url) <= MAX_URL else f"is longer than {MAX_URL} characters"
        if problem:
            raise fail(name, f"must be an http:// or https:// URL, got {_show(url)} ({problem})")
    for email in values.alert_emails:
        if len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
            raise fail("alert_emails", f"has an invalid address {_show(email)}")
    seen: set[str] = set()
    for price in values.model_prices:
        if not price.name.strip():
            raise fail("model_prices", "has an entry with an empty name")
        if len(price.name) > MAX_NAME:
            raise fail("model_prices", f"{_show(price.name)}: name must be {MAX_NAME} characters or fewer")
        if len(price.match_pattern) > MAX_PATTERN:
            raise fail("model_prices", f"{price.name!r}: match_pattern must be {MAX_PATTERN} characters or fewer")
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


def _show(raw: Any, limit: int = 60) -> str:
    """A value as it appears in an error: its repr, cut short (a value may be a megabyte long)."""
    text = repr(raw) if not isinstance(raw, int) or isinstance(raw, bool) or abs(raw) < 10**limit else "a huge number"
    return text if len(text) <= limit else text[: limit - 1] + "…"
