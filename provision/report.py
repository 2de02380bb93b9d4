"""`report`: run every dashboard panel's query through `_search`, as the viewer would, and tabulate it."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from provision.client import O2Client
from provision.errors import InputError, ProvisionError
from provision.kinds import Kind
from provision.panels import PanelQuery, panel_queries
from provision.remote import parallel
from provision.render import Bundle

SINCE = re.compile(r"^(\d+)\s*([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class PanelResult:
    query: PanelQuery
    rows: list[dict[str, Any]]
    error: str | None = None


def time_range(since: str, now_us: int | None = None) -> tuple[int, int]:
    """[now - since, now) in microseconds, from a duration like 15m, 1h or 2d."""
    match = SINCE.match(since.strip())
    if not match:
        raise InputError(f"--since must look like 30s, 15m, 1h or 2d, got {since!r}")
    end = now_us if now_us is not None else int(time.time() * 1_000_000)
    return end - int(match.group(1)) * UNIT_SECONDS[match.group(2)] * 1_000_000, end


def run_report(client: O2Client, bundle: Bundle, start_us: int, end_us: int, workers: int) -> list[PanelResult]:
    """Every panel query of every declared dashboard, run over the time range."""
    queries = [q for d in bundle.of(Kind.DASHBOARD) for q in panel_queries(d.payload)]

    def run(query: PanelQuery) -> PanelResult:
        try:
            rows = client.search(query.sql, start_us, end_us, stream_type=query.stream_type, search_type="dashboards")
        except ProvisionError as exc:
            return PanelResult(query, [], exc.message)
        return PanelResult(query, rows)

    return parallel(run, queries, workers)


def format_table(rows: list[dict[str, Any]], columns: list[str], limit: int) -> list[str]:
    """A plain-text table of the first `limit` rows."""
    if not rows:
        return ["(no data)"]
    shown = rows[:limit]
    cells = [[_cell(row.get(c)) for c in columns] for row in shown]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    if len(rows) > limit:
        lines.append(f"… {len(rows) - limit} more row(s)")
    return lines


def columns_of(result: PanelResult) -> list[str]:
    wanted = [*result.query.x_aliases, *result.query.y_aliases]
    present = list(result.rows[0]) if result.rows else wanted
    ordered = [c for c in wanted if c in present] + [c for c in present if c not in wanted and c != "_timestamp"]
    return ordered or present


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}" if 0 < abs(value) < 0.01 else f"{value:,.1f}"
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def report_doc(results: list[PanelResult], start_us: int, end_us: int) -> dict[str, Any]:
    """The report as one JSON document."""
    return {
        "start_time": start_us,
        "end_time": end_us,
        "panels": [
            {
                "dashboard": r.query.dashboard,
                "panel": r.query.panel_title,
                "sql": r.query.sql,
                "rows": r.rows,
                "error": r.error,
            }
            for r in results
        ],
    }


def print_report(results: list[PanelResult], rows: int) -> None:
    """Each dashboard's panels as plain-text tables."""
    dashboard = None
    for result in results:
        if result.query.dashboard != dashboard:
            dashboard = result.query.dashboard
            print(f"\n== {dashboard} ==")
        print(f"\n-- {result.query.panel_title}")
        lines = [f"error: {result.error}"] if result.error else format_table(result.rows, columns_of(result), rows)
        for line in lines:
            print("   " + line)
