"""The one `.env` reader, for the bot's ``setup_openobserve()`` and the ``o2-provision`` CLI alike.

A line that is not ``KEY=value`` is skipped, and the reader says which and why (never what it holds: it may be
the token); a file that is not UTF-8 text, too large or unreadable is refused. Light to import: the standard
library and python-dotenv's parser only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 1024 * 1024


class EnvFileError(ValueError):
    """A `.env` file that cannot be read at all; the message is one line and names the file."""


@dataclass(frozen=True)
class EnvFile:
    """What a `.env` file sets, and a warning for each line it skipped."""

    values: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_env_file(path: Path) -> EnvFile:
    """The variables the file sets (none when there is no such file); unparsable lines are skipped."""
    if not path.is_file():
        return EnvFile()
    try:
        if path.stat().st_size > MAX_BYTES:
            raise EnvFileError(f"{path} is larger than {MAX_BYTES:,} bytes; is it a .env file?")
        raw = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EnvFileError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    kept: list[str] = []
    warnings: list[str] = []
    lines_before, after_cr = 0, False  # the statements parse_stream returns add up to the file
    for binding in parse_stream(io.StringIO(text)):
        statement = binding.original.string
        split_crlf = after_cr and statement.startswith("\n")  # a CRLF cut in two by a statement that failed
        if binding.error or (binding.key is not None and binding.value is None):  # `=====`, or `export` alone
            leading = statement[: len(statement) - len(statement.lstrip())]
            line = lines_before + _line_breaks(leading) - split_crlf + 1
            warnings.append(f"{path}, line {line}: skipped, not a KEY=value line ({_why(statement.strip())})")
        else:
            kept.append(statement)
        lines_before += _line_breaks(statement) - split_crlf
        after_cr = statement.endswith("\r")
    # The lines that parse, read as python-dotenv reads them (quotes, escapes, `export`, ${VAR}).
    values = dotenv_values(stream=io.StringIO("".join(kept)))
    return EnvFile({k: v for k, v in values.items() if v is not None}, warnings)


def _line_breaks(text: str) -> int:
    """Line ends in text: LF, CRLF or a lone CR."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _why(statement: str) -> str:
    """What is wrong with a line python-dotenv cannot parse, without repeating it."""
    name, equals, value = statement.partition("=")
    value = value.strip()
    if not equals:
        return "'export' needs KEY=value after it" if name.split()[:1] == ["export"] else "it has no '='"
    if not name.strip():
        return "it has no name before the '='"
    if any(c.isspace() for c in name.strip().removeprefix("export ").strip()):
        return "a name cannot hold spaces"
    if value[:1] in ("'", '"'):
        closing = value.find(value[0], 1)
        return "an unterminated quote" if closing < 0 else "text after the closing quote; quote the whole value"
    return "a value that python-dotenv cannot read; quote it"
