"""Medians, spreads and plain-text tables shared by the benchmarks."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float], digits: int = 2) -> str:
    """``min–max`` of the repetitions."""
    if not values:
        return "-"
    return f"{min(values):.{digits}f}–{max(values):.{digits}f}"


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (also readable in a terminal)."""
    cells = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or ''} Python {platform.python_version()}, {load()}".strip()
