"""Rust `regex` crate emulation on top of Python's `re` (openobserve-llm.md §4/§5 match patterns).

`compile_rust` rejects what the crate rejects (look-around, backreferences) with its error text,
translates what only the crate accepts (a flag group mid-pattern, `(?<name>…)`, `\\z`) and maps
Python's `re.error` messages to the crate's `regex parse error:` Display for the common cases.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Python `re.error` message prefix → regex-syntax `ast::ErrorKind` Display.
_PY_TO_RUST = (
    ("missing ), unterminated subpattern", "unclosed group"),
    ("unbalanced parenthesis", "unopened group"),
    ("nothing to repeat", "repetition operator missing expression"),
    ("unterminated character set", "unclosed character class"),
    ("bad escape (end of pattern)", "incomplete escape sequence, reached end of pattern prematurely"),
    ("bad escape", "unrecognized escape sequence"),
    ("bad character range", "invalid character class range, the start must be <= the end"),
    ("min repeat greater than max repeat", "invalid repetition count range, the start must be <= the end"),
    ("redefinition of group name", "duplicate capture group name"),
    ("missing group name", "empty capture group name"),
    ("bad character in group name", "invalid capture group character"),
    ("unknown flag", "unrecognized flag"),
    ("missing :", "expected flag but got end of regex"),
    ("missing -, : or )", "expected flag but got end of regex"),
)
_LOOK_AROUND = "look-around, including look-ahead and look-behind, is not supported"
_BACKREF = "backreferences are not supported"
_FLAG_GROUP = re.compile(r"\(\?([A-Za-z]*(?:-[A-Za-z]*)?)\)")


class RustRegexError(Exception):
    """A pattern the Rust regex crate refuses; `str(e)` is the crate's Display."""


def _display(pattern: str, start: int, length: int, kind: str) -> str:
    """regex-syntax `Formatter` Display: the pattern, a caret line under the span, `error: …`."""
    lines = pattern.split("\n")
    # locate the span's line and column (char based, like regex-syntax's Position)
    line_no, col = 0, start
    for i, ln in enumerate(lines):
        if col <= len(ln):
            line_no = i
            break
        col -= len(ln) + 1
    multi = len(lines) > 1
    width = len(str(len(lines))) if multi else 0
    pad = width + 2 if multi else 4
    out = []
    for i, ln in enumerate(lines):
        out.append((f"{i + 1:>{width}}: " if multi else "    ") + ln)
        if i == line_no:
            out.append(" " * (pad + col) + "^" * max(1, length))
    body = "\n".join(out) + "\n"
    if multi:
        divider = "~" * 79
        return f"regex parse error:\n{divider}\n{body}{divider}\nerror: {kind}"
    return f"regex parse error:\n{body}error: {kind}"


def _translate(pattern: str) -> tuple[str, list[int]]:
    """Rust syntax → equivalent Python syntax, plus, per output char, its index in `pattern`.

    Raises RustRegexError for look-around and backreferences.
    """
    out: list[str] = []
    src: list[int] = []
    # one frame per open group: flags opened by `(?flags)` inside it (re-opened after each `|`)
    frames: list[list[str]] = [[]]

    def emit(text: str, at: int) -> None:
        out.append(text)
        src.extend([at] * len(text))

    def close_scopes(at: int) -> None:
        emit(")" * len(frames[-1]), at)

    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isdigit() and nxt != "0":
                raise RustRegexError(_display(pattern, i, 2, _BACKREF))
            if nxt == "z":
                emit("\\Z", i)
            else:
                emit(ch, i)
                emit(nxt, i + 1)
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            depth = 1
            while j < n and depth:
                c = pattern[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                j += 1
            for k in range(i, min(j, n)):
                emit(pattern[k], k)
            i = j
            continue
        if ch == "(":
            for la in ("(?<=", "(?<!", "(?=", "(?!"):
                if pattern.startswith(la, i):
                    raise RustRegexError(_display(pattern, i, len(la), _LOOK_AROUND))
            m = _FLAG_GROUP.match(pattern, i)
            if m:
                emit(f"(?{m.group(1)}:", i)
                frames[-1].append(m.group(1))
                i = m.end()
                continue
            if pattern.startswith("(?<", i):
                emit("(?P<", i)
                i += 3
            else:
                emit("(", i)
                i += 1
            frames.append([])
            continue
        if ch == "|":
            close_scopes(i)
            emit("|", i)
            for f in frames[-1]:
                emit(f"(?{f}:", i)
            i += 1
            continue
        if ch == ")":
            close_scopes(i)
            if len(frames) > 1:
                frames.pop()
            emit(")", i)
            i += 1
            continue
        emit(ch, i)
        i += 1
    for fr in reversed(frames):
        emit(")" * len(fr), n)
    return "".join(out), src


@lru_cache(maxsize=1024)
def compile_rust(pattern: str) -> re.Pattern[str]:
    """Compile like `regex::Regex::new`; raise RustRegexError with the crate's Display text."""
    translated, src = _translate(pattern)
    try:
        return re.compile(translated)
    except re.error as e:
        kind = next((r for p, r in _PY_TO_RUST if e.msg.startswith(p)), e.msg)
        pos = e.pos if e.pos is not None else len(translated)
        at = src[pos] if pos < len(src) else len(pattern)
        raise RustRegexError(_display(pattern, min(at, len(pattern)), 1, kind)) from None


def rust_search(pattern: str, text: str) -> bool:
    """`Regex::new(pattern)?.is_match(text)`; an invalid pattern never matches."""
    try:
        return compile_rust(pattern).search(text) is not None
    except RustRegexError:
        return False
