"""`doctor`: check each thing provisioning depends on, and say what to do when one fails."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provision.client import O2Client
from provision.errors import AuthError, InputError, NetworkError, ProvisionError
from provision.kinds import Kind
from provision.panels import panel_queries
from provision.remote import parallel
from provision.render import Bundle
from provision.stream import stream_exists

_UNKNOWN_FIELD = re.compile(r"unknown field '([^']+)'|No field named ([^\s.]+)")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn", "fail" or "skip"
    detail: str
    fix: str = ""


def run_checks(client: O2Client, bundle: Bundle) -> list[Check]:
    """Every check in order; a failed prerequisite skips the checks that need it."""
    checks = [_reachable(client)]
    if checks[-1].status == "fail":
        return [*checks, Check("version", "skip", "O2 not reachable"), Check("credentials", "skip", "")]
    checks.append(_version(client))
    checks.append(_credentials(client))
    if checks[-1].status == "ok":
        checks.append(_stream(client, bundle.values.stream))
        if checks[-1].status == "ok":
            checks.extend(_llm(client, bundle.values.stream))
            checks.extend(_calls_without_turns(client, bundle.values.stream))
            checks.extend(_queries(client, bundle))
    else:
        checks.append(Check("traces stream", "skip", "needs working credentials"))
    checks.extend(_destinations(bundle))
    return checks


def _reachable(client: O2Client) -> Check:
    try:
        client.request("GET", "/healthz", retry=False)
    except NetworkError as exc:
        return Check("reachable", "fail", exc.message, "check OPENOBSERVE_URL and that O2 is running")
    except ProvisionError as exc:
        return Check("reachable", "fail", exc.message, "is OPENOBSERVE_URL the base URL of O2 (no /web or /api)?")
    return Check("reachable", "ok", client.settings.url)


def _version(client: O2Client) -> Check:
    try:
        config = client.get("/config")
    except ProvisionError as exc:
        return Check("version", "warn", f"GET /config failed: {exc.message}")
    version = str((config or {}).get("version", "unknown")) if isinstance(config, dict) else "unknown"
    return Check("version", "ok", f"OpenObserve {version}")


def _credentials(client: O2Client) -> Check:
    try:
        client.get(f"/api/v2/{client.org}/folders/dashboards")
    except AuthError as exc:
        return Check("credentials", "fail", exc.message, "set OPENOBSERVE_AUTH_TOKEN to base64 of 'email:password'")
    except InputError as exc:
        return Check("organization", "fail", exc.message, exc.hint or "check OPENOBSERVE_ORG")
    except ProvisionError as exc:
        return Check("credentials", "fail", exc.message)
    return Check("credentials", "ok", f"organization {client.org!r} accessible")


def _stream(client: O2Client, stream: str) -> Check:
    try:
        exists = stream_exists(client, stream)
    except ProvisionError as exc:
        return Check("traces stream", "warn", exc.message)
    if exists:
        return Check("traces stream", "ok", f"stream {stream!r} exists")
    return Check(
        "traces stream",
        "fail",
        f"stream {stream!r} has no data yet; alerts on it cannot be created",
        "run your bot with the instrumentation, or `o2-provision apply --bootstrap-stream`",
    )


def _llm(client: O2Client, stream: str) -> list[Check]:
    """Is the stream an LLM stream, and does every model seen in the last hour have a price?"""
    end = int(time.time() * 1_000_000)
    sql = (
        "SELECT gen_ai_response_model AS model, count(*) AS calls, sum(gen_ai_usage_cost) AS cost "
        # gen_ai_operation_name is on every span O2 enriched, and only there (O2's own LLM views filter on it)
        f'FROM "{stream}" WHERE gen_ai_operation_name IS NOT NULL AND gen_ai_response_model IS NOT NULL '
        "GROUP BY gen_ai_response_model"
    )
    try:
        rows = client.search(sql, end - 3_600_000_000, end)
    except ProvisionError as exc:
        if "gen_ai_" not in exc.message:
            return [Check("LLM stream", "warn", exc.message)]
        return [
            Check(
                "LLM stream",
                "warn",
                f"no LLM span in {stream!r} yet, so O2's LLM views (sessions, tokens, cost) are empty",
                "call setup_openobserve() at start-up: it traces each OpenAI call, which O2 enriches",
            )
        ]
    checks = [Check("LLM stream", "ok", f"O2 enriches the LLM spans of {stream!r} (tokens, cost, sessions)")]
    for row in rows:
        model = str(row.get("model"))
        try:
            match = client.post(f"/api/{client.org}/llm/models/test", {"model_name": model})
        except ProvisionError as exc:
            checks.append(Check(f"price of {model}", "warn", exc.message))
            continue
        matched = (match or {}).get("matched") if isinstance(match, dict) else None
        if matched:
            checks.append(Check(f"price of {model}", "ok", f"priced by {matched.get('name')!r}"))
        elif float(row.get("cost") or 0) > 0:
            checks.append(Check(f"price of {model}", "ok", "priced by O2's built-in table"))
        else:
            checks.append(
                Check(
                    f"price of {model}",
                    "warn",
                    f"{row.get('calls')} call(s) in the last hour cost 0: O2 has no price for {model!r}",
                    "add it to model_prices in your values and apply",
                )
            )
    return checks


def _calls_without_turns(client: O2Client, stream: str) -> list[Check]:
    """LLM calls of the last hour traced outside a pipeline (by hand, as O2's Pipecat guide shows)."""
    end = int(time.time() * 1_000_000)
    sql = (
        "SELECT count(*) AS calls, count(pipecat_session_id) AS with_session "
        f"FROM \"{stream}\" WHERE operation_name = 'pipecat.llm_service' AND pipecat_turn_number IS NULL"
    )
    try:
        rows = client.search(sql, end - 3_600_000_000, end)
    except ProvisionError:
        return []  # a stream without these columns yet: the query check names them
    calls = int((rows[0] if rows else {}).get("calls") or 0)
    if calls == 0:
        return []
    without = "a turn" if int(rows[0].get("with_session") or 0) == calls else "a turn or a session"
    return [
        Check(
            "LLM calls without turns",
            "warn",
            f"{calls} LLM call(s) in the last hour came without {without} (an LLM span made by hand, as in "
            "O2's Pipecat guide): the turn latency, slowest-turn and per-session panels and the slow-turn "
            "alert cannot show them",
            "trace the pipeline with instrument_pipeline(worker): one line, and every turn gets its latency, "
            "its session and its tokens",
        )
    ]


def _queries(client: O2Client, bundle: Bundle) -> list[Check]:
    """Each panel and alert query against the stream as it is now (``_search?validate=true``, last hour)."""
    end = int(time.time() * 1_000_000)
    named = [
        (f"panel {q.dashboard} / {q.panel_title}", q.sql, "dashboards")
        for d in bundle.of(Kind.DASHBOARD)
        for q in panel_queries(d.payload)
    ]
    named += [(f"alert {a.key}", sql, "alerts") for a in bundle.of(Kind.ALERT) if (sql := _alert_sql(a.payload))]

    def check(item: tuple[str, str, str]) -> Check:
        name, sql, search_type = item
        body = {"query": {"sql": sql, "start_time": end - 3_600_000_000, "end_time": end, "from": 0, "size": 1}}
        try:
            client.post(f"/api/{client.org}/_search", body, type="traces", search_type=search_type, validate="true")
        except ProvisionError as exc:
            return Check(name, "fail", exc.message, _query_fix(exc.message))
        return Check(name, "ok", "runs on the stream as it is")

    results = parallel(check, named, client.settings.concurrency)
    failed = [c for c in results if c.status != "ok"]
    if not failed:
        return [Check("panel and alert queries", "ok", f"all {len(results)} run on the stream as it is")]
    return failed


def _alert_sql(alert: dict[str, Any]) -> str | None:
    """The SQL an alert runs, or for a condition alert a query naming the columns its conditions test."""
    condition = alert.get("query_condition") or {}
    if condition.get("type") == "sql":
        return str(condition.get("sql") or "") or None
    columns = sorted(set(_condition_columns(condition.get("conditions"))))
    if not columns:
        return None
    stream = str(alert.get("stream_name") or "")
    return "SELECT " + ", ".join(f'"{c}"' for c in columns) + f' FROM "{stream}"'


def _condition_columns(node: Any) -> list[str]:
    if isinstance(node, list):
        return [c for item in node for c in _condition_columns(item)]
    if not isinstance(node, dict):
        return []
    own = [str(node["column"])] if isinstance(node.get("column"), str) else []
    return own + [c for key, value in node.items() if key != "column" for c in _condition_columns(value)]


def _query_fix(message: str) -> str:
    match = _UNKNOWN_FIELD.search(message)
    if not match:
        return "check the query in its template (o2-provision render shows it)"
    column = match.group(1) or match.group(2)
    return (
        f"no span in the stream has had {column!r} yet, so O2 fails the whole query: start your bot once with "
        "this version's setup_openobserve(), which adds every column the dashboards and alerts read "
        "(on a fresh stream, `o2-provision apply --bootstrap-stream` does too)"
    )


def _destinations(bundle: Bundle) -> list[Check]:
    checks = []
    for dest in bundle.of(Kind.DESTINATION):
        url = str(dest.payload.get("url") or "")
        if not url:
            continue
        private = _private_host(urlsplit(url).hostname or "")
        if private:
            checks.append(
                Check(
                    f"destination {dest.key}",
                    "warn",
                    f"{urlsplit(url).hostname}: {private} address; O2 refuses it by default (SSRF guard)",
                    "use a public URL, or start O2 with ZO_SSRF_ALLOW_LOOPBACK=true",
                )
            )
        else:
            checks.append(Check(f"destination {dest.key}", "ok", "public address"))
    return checks


def _private_host(host: str) -> str | None:
    """'loopback' or 'private' when the host resolves there, None when public."""
    if host in ("localhost",) or host.endswith((".local", ".localdomain", ".lan", ".internal")):
        return "loopback" if host == "localhost" else "private"
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return "unresolvable"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_loopback:
            return "loopback"
        if ip.is_private or ip.is_link_local or ip.is_reserved:
            return "private"
    return None
