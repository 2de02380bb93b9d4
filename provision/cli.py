"""`o2-provision`: OpenObserve dashboards and alerts for Pipecat voice bots, as code."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from provision.errors import ExitCode, InputError, ProvisionError


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


if TYPE_CHECKING:
    from provision.bundle import Sources
    from provision.config import Settings
    from provision.demo.bot import SessionResult
    from provision.demo.traffic import TrafficPlan

app = typer.Typer(
    name="o2-provision",
    help="Provision OpenObserve dashboards, alerts, destinations and alert templates for Pipecat bots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Url = Annotated[
    str | None, typer.Option("--url", help="O2 base URL [env OPENOBSERVE_URL; default http://localhost:5080]")
]
Org = Annotated[str | None, typer.Option("--org", help="O2 organization [env OPENOBSERVE_ORG; default default]")]
Token = Annotated[
    str | None,
    typer.Option("--token", help="'Basic <base64>' or the base64 of email:password; prefer env OPENOBSERVE_AUTH_TOKEN"),
]
EnvFile = Annotated[Path, typer.Option("--env-file", help="dotenv file read after the environment")]
ValuesFiles = Annotated[list[Path] | None, typer.Option("--values", "-f", help="YAML or TOML values file (repeatable)")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="override one value: key=value (repeatable)")]
Templates = Annotated[
    Path | None, typer.Option("--templates", help="your own templates folder, laid out like the built-in one")
]
Output = Annotated[Format, typer.Option("--output", "-o", help="text for people, json for CI")]
Timeout = Annotated[float, typer.Option("--timeout", help="seconds per HTTP request")]
CaCert = Annotated[Path | None, typer.Option("--ca-cert", help="CA bundle to verify O2's TLS certificate")]
Insecure = Annotated[bool, typer.Option("--insecure", help="do not verify O2's TLS certificate")]
Concurrency = Annotated[int, typer.Option("--concurrency", help="requests in flight at once")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="log each HTTP request to stderr")]


def _sources(templates: Path | None, values: list[Path] | None, sets: list[str] | None) -> Sources:
    from provision.bundle import Sources

    return Sources(templates=templates, values_files=list(values or []), assignments=list(sets or []))


def _settings(
    url: str | None,
    org: str | None,
    token: str | None,
    env_file: Path,
    timeout: float = 10.0,
    ca_cert: Path | None = None,
    insecure: bool = False,
    concurrency: int = 8,
    verbose: bool = False,
) -> Settings:
    from provision.config import load_settings

    return load_settings(
        url=url,
        org=org,
        token=token,
        env_file=env_file,
        timeout=timeout,
        ca_cert=ca_cert,
        insecure=insecure,
        concurrency=concurrency,
        verbose=verbose,
    )


def _confirm(question: str, yes: bool) -> bool:
    """True when the user agreed, or said --yes; never waits without a terminal."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return True
    return bool(typer.confirm(question, default=False))


@app.command()
def render(
    out: Annotated[Path | None, typer.Option("--out", help="write one JSON file per resource here")] = None,
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
) -> None:
    """Render the templates with the values into the exact JSON payloads; no network."""
    from provision.bundle import load_bundle
    from provision.files import write_rendered
    from provision.output import emit_json, say, warn

    bundle = load_bundle(_sources(templates, values, set_))
    for note in bundle.notes:
        warn(note)
    docs = [{"kind": r.kind.value, "name": r.key, "source": r.source, "payload": r.payload} for r in bundle.resources]
    if out is not None:
        written = write_rendered(out, bundle)
        if output is Format.JSON:
            emit_json({"written": [str(p) for p in written]})
        else:
            say(f"Wrote {len(written)} payload(s) to {out}")
        return
    emit_json(docs)


@app.command()
def validate(
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
) -> None:
    """Render, then check every payload against O2's rules; no network."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, say, warn
    from provision.rules import check_bundle

    bundle = load_bundle(_sources(templates, values, set_))
    problems = check_bundle(bundle)
    if output is Format.JSON:
        emit_json(
            {
                "valid": not problems,
                "problems": problems,
                "notes": bundle.notes,
                "resources": len(bundle.resources),
            }
        )
    else:
        for note in bundle.notes:
            warn(note)
        for problem in problems:
            say(f"invalid: {problem}")
        if not problems:
            say(f"Valid: {len(bundle.resources)} resource(s) follow O2's rules.")
    if problems:
        raise typer.Exit(int(ExitCode.INPUT))


@app.command()
def plan(
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="exit 0 with no changes, 2 with changes, 1 on error")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="also plan deleting managed resources no longer declared")
    ] = False,
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 10.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    concurrency: Concurrency = 8,
    verbose: Verbose = False,
) -> None:
    """Compare the templates with O2 and show what apply would change."""
    from provision.bundle import validated_bundle
    from provision.output import emit_json, plan_doc, print_plan, say, warn
    from provision.workflow import plan_for, read

    bundle = validated_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency, verbose)
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=prune)
    if output is Format.JSON:
        emit_json(plan_doc(the_plan, bundle.notes))
    else:
        for note in bundle.notes:
            warn(note)
        say(f"O2 {settings.url}, organization {settings.org}")
        print_plan(the_plan)
    if the_plan.blocked:
        raise typer.Exit(int(ExitCode.CONFLICT))
    if detailed_exitcode and the_plan.pending():
        raise typer.Exit(int(ExitCode.CHANGES))


@app.command()
def apply(
    yes: Yes = False,
    prune: Annotated[bool, typer.Option("--prune", help="delete managed resources no longer declared")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only show the plan")] = False,
    on_error: Annotated[
        str, typer.Option("--on-error", help="fail: stop after the first failing step; continue")
    ] = "fail",
    bootstrap_stream: Annotated[
        bool,
        typer.Option("--bootstrap-stream", help="send one marker span so a fresh O2 has the traces stream"),
    ] = False,
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 10.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    concurrency: Concurrency = 8,
    verbose: Verbose = False,
) -> None:
    """Converge O2 to the templates: create, update in place, and with --prune delete."""
    from provision.bundle import validated_bundle
    from provision.kinds import Kind
    from provision.output import PAST, emit_json, plan_doc, print_plan, result_doc, say, warn
    from provision.plan import Action, Change
    from provision.stream import ensure_stream
    from provision.workflow import execute, plan_for, read

    if on_error not in ("fail", "continue"):
        raise InputError(f"--on-error must be fail or continue, got {on_error!r}")
    bundle = validated_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency, verbose)
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=prune)
        text = output is Format.TEXT
        if text:
            for note in bundle.notes:
                warn(note)
            say(f"O2 {settings.url}, organization {settings.org}")
            print_plan(the_plan)
        if dry_run or not the_plan.pending():
            if not text:
                emit_json(plan_doc(the_plan, bundle.notes))
            if the_plan.blocked:
                raise typer.Exit(int(ExitCode.CONFLICT))
            return
        if text and not _confirm("Apply these changes?", yes):
            say("Nothing applied.")
            raise typer.Exit(int(ExitCode.INPUT))
        if bootstrap_stream and any(c.kind is Kind.ALERT for c in the_plan.pending()):
            created = ensure_stream(session.client, bundle.values.stream)
            if created and text:
                say(f"Sent one marker span so stream {bundle.values.stream!r} exists.")

        def progress(change: Change, error: ProvisionError | None) -> None:
            if not text:
                return
            if error is None:
                say(f"  {PAST[change.action]} {change.kind.label} {change.key}")
            else:
                say(f"  failed to {change.action.value} {change.kind.label} {change.key}: {error.message}")

        result = execute(session, bundle, the_plan, stop_on_error=on_error == "fail", progress=progress)
        stats = session.client.stats
    if output is Format.JSON:
        emit_json({**result_doc(result, the_plan), "requests": {"reads": stats.reads, "writes": stats.writes}})
    else:
        counts = {a: sum(1 for c in result.done if c.action is a) for a in Action}
        say(
            f"Apply {'complete' if not result.failed else 'incomplete'}: {counts[Action.CREATE]} created, "
            f"{counts[Action.UPDATE]} updated, {counts[Action.DELETE]} deleted, "
            f"{the_plan.count(Action.NOOP)} unchanged, "
            f"{len(result.failed)} failed, {len(result.skipped)} skipped "
            f"({stats.reads} reads, {stats.writes} writes)."
        )
    if result.failed:
        from provision.stream import explain_failure

        first = result.failed[0].error
        hint = explain_failure(first, bundle.values.stream)
        raise type(first)(first.message, hint=hint or first.hint)
    if the_plan.blocked:
        raise typer.Exit(int(ExitCode.CONFLICT))


@app.command()
def destroy(
    yes: Yes = False,
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 10.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    concurrency: Concurrency = 8,
    verbose: Verbose = False,
) -> None:
    """Delete everything o2-provision manages on O2, in reverse dependency order."""
    from provision.bundle import load_bundle
    from provision.output import PAST, emit_json, print_plan, result_doc, say
    from provision.plan import Change
    from provision.workflow import destroy_plan, execute, read

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency, verbose)
    session = read(settings, bundle)
    with session.client:
        the_plan = destroy_plan(session, bundle)
        text = output is Format.TEXT
        if not the_plan.pending():
            if text:
                say("Nothing to destroy: no resource on the server is managed by o2-provision.")
            else:
                emit_json({"done": [], "failed": [], "skipped": [], "unchanged": 0})
            return
        if text:
            print_plan(the_plan)
        if not yes:
            if not sys.stdin.isatty():
                raise InputError("destroy deletes resources: pass --yes to confirm when there is no terminal")
            if not typer.confirm(f"Delete these {len(the_plan.pending())} resources?", default=False):
                say("Nothing deleted.")
                raise typer.Exit(int(ExitCode.INPUT))

        def progress(change: Change, error: ProvisionError | None) -> None:
            if text:
                say(
                    f"  {PAST[change.action]} {change.kind.label} {change.key}"
                    if error is None
                    else f"  failed to delete {change.kind.label} {change.key}: {error.message}"
                )

        result = execute(session, bundle, the_plan, stop_on_error=False, progress=progress)
    if output is Format.JSON:
        emit_json(result_doc(result, the_plan))
    else:
        say(
            f"Destroy {'complete' if not result.failed else 'incomplete'}: "
            f"{len(result.done)} deleted, {len(result.failed)} failed."
        )
    if result.failed:
        raise result.failed[0].error


@app.command()
def status(
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 10.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    concurrency: Concurrency = 8,
    verbose: Verbose = False,
) -> None:
    """What o2-provision manages on O2, and where the server has drifted from the templates."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, plan_doc, print_status
    from provision.workflow import plan_for, read

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency, verbose)
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=True)
    if output is Format.JSON:
        emit_json(plan_doc(the_plan, bundle.notes))
    else:
        print_status(the_plan, settings.url, settings.org)


@app.command()
def init(
    templates_dir: Annotated[
        Path | None, typer.Option("--templates", help="also copy the built-in templates here, to customise")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
    output: Output = Format.TEXT,
) -> None:
    """Write .env.example and o2-values.yaml (commented); with --templates, a copy of the templates."""
    from provision.files import copy_templates, write_new
    from provision.output import emit_json, say
    from provision.render import builtin_templates

    written = [Path(".env.example"), Path("o2-values.yaml")]
    for path in written:
        if path.exists() and not force:
            raise InputError(f"{path} already exists (use --force to overwrite)")
    write_new(written[0], ENV_EXAMPLE, force=force)
    write_new(written[1], (builtin_templates() / "values.yaml").read_text(encoding="utf-8"), force=force)
    if templates_dir is not None:
        copy_templates(builtin_templates(), templates_dir, force=force)
        written.append(templates_dir)
    if output is Format.JSON:
        emit_json({"written": [str(p) for p in written]})
    else:
        for path in written:
            say(f"wrote {path}")
        say("Next: cp .env.example .env, fill in the token, then `o2-provision plan -f o2-values.yaml`.")


@app.command()
def doctor(
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 10.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    verbose: Verbose = False,
) -> None:
    """Check O2 is reachable, its version, the credentials, the organization, the stream and destinations."""
    from provision.bundle import load_bundle
    from provision.client import O2Client
    from provision.doctor import run_checks
    from provision.output import emit_json, say

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, verbose=verbose)
    with O2Client(settings, retries=0) as client:
        checks = run_checks(client, bundle)
    if output is Format.JSON:
        emit_json({"checks": [c.__dict__ for c in checks]})
    else:
        for check in checks:
            line = f"{check.status:4}  {check.name}: {check.detail}"
            say(line + (f" -> {check.fix}" if check.fix and check.status != "ok" else ""))
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(int(ExitCode.INPUT))


@app.command()
def report(
    since: Annotated[str, typer.Option("--since", help="time range ending now: 30s, 15m, 1h, 2d")] = "1h",
    rows: Annotated[int, typer.Option("--rows", help="rows shown per panel")] = 10,
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
    timeout: Timeout = 30.0,
    ca_cert: CaCert = None,
    insecure: Insecure = False,
    concurrency: Concurrency = 8,
    verbose: Verbose = False,
) -> None:
    """Print what the dashboards show over a time range: every panel's query, run through _search."""
    from provision.bundle import load_bundle
    from provision.client import O2Client
    from provision.output import emit_json, say
    from provision.report import columns_of, format_table, run_report, time_range

    if rows < 1:
        raise InputError(f"--rows must be at least 1, got {rows}")
    start_us, end_us = time_range(since)
    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency, verbose)
    with O2Client(settings) as client:
        results = run_report(client, bundle, start_us, end_us, settings.concurrency)
    if output is Format.JSON:
        emit_json(
            {
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
        )
    else:
        say(f"O2 {settings.url}, organization {settings.org}, stream {bundle.values.stream!r}, last {since}")
        dashboard = None
        for result in results:
            if result.query.dashboard != dashboard:
                dashboard = result.query.dashboard
                say(f"\n== {dashboard} ==")
            say(f"\n-- {result.query.panel_title}")
            lines = [f"error: {result.error}"] if result.error else format_table(result.rows, columns_of(result), rows)
            for line in lines:
                say("   " + line)
    failed = [r for r in results if r.error]
    if failed and len(failed) == len(results):
        raise InputError(f"every panel query failed, e.g. {failed[0].query.panel_title!r}: {failed[0].error}")


@app.command()
def demo(
    sessions: Annotated[int, typer.Option("--sessions", help="conversations to run")] = 2,
    turns: Annotated[int, typer.Option("--turns", help="user turns per conversation")] = 3,
    slow: Annotated[int, typer.Option("--slow", help="turns answered slower than slow_turn_ms")] = 1,
    fail: Annotated[int, typer.Option("--fail", help="turns whose LLM call fails")] = 1,
    model: Annotated[str, typer.Option("--model", help="model name the fake LLM answers as")] = "gpt-4o-mini",
    url: Url = None,
    org: Org = None,
    token: Token = None,
    env_file: EnvFile = Path(".env"),
    values: ValuesFiles = None,
    set_: Sets = None,
    templates: Templates = None,
    output: Output = Format.TEXT,
) -> None:
    """Send real bot traffic to O2: Pipecat sessions against a local fake LLM, traced by the instrumentation."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, say

    _quiet_pipecat()
    if sessions < 1 or turns < 1:
        raise InputError("--sessions and --turns must be at least 1")
    if slow < 0 or fail < 0 or slow + fail > sessions * turns:
        raise InputError(f"--slow + --fail must be between 0 and the {sessions * turns} turns of the run")
    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file)
    assert settings.authorization is not None
    from provision.demo.traffic import TrafficPlan, slow_turns_of

    plan = TrafficPlan(sessions, turns, slow, fail, slow_seconds=bundle.values.slow_turn_ms / 1000 + 0.5, model=model)
    results = _run_demo(settings, bundle.values.stream, plan)
    slow_turns = slow_turns_of(plan, results)
    if output is Format.JSON:
        emit_json(
            {
                "sessions": [
                    {
                        "session_id": r.session_id,
                        "turns": [
                            {
                                "turn": t.number,
                                "prompt_tokens": t.prompt_tokens,
                                "completion_tokens": t.completion_tokens,
                                "failed": t.failed,
                            }
                            for t in r.turns
                        ],
                    }
                    for r in results
                ]
            }
        )
        return
    for result in results:
        say(f"session {result.session_id}: {len(result.turns)} turns in {result.seconds:.1f}s")
        for turn in result.turns:
            state = "LLM call failed" if turn.failed else f"{turn.prompt_tokens}+{turn.completion_tokens} tokens"
            if (result.session_id, turn.number) in slow_turns:
                state += f", slow (the LLM took {plan.slow_seconds:.1f}s to answer)"
            say(f"  turn {turn.number}: {state}")
    say(f"Traffic sent to {settings.url} (stream {bundle.values.stream!r}); see it with `o2-provision report`.")


def _quiet_pipecat() -> None:
    """Keep Pipecat's own logging (an import banner, per-frame errors) out of the demo's output."""
    import logging
    import warnings

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="CRITICAL")
    logging.getLogger("instrumentation").setLevel(logging.WARNING)
    # OpenInference's wrapper of the async TTS call leaves a coroutine un-awaited; that span is dropped.
    warnings.filterwarnings("ignore", message="coroutine 'AsyncAPIResponse.parse' was never awaited")


def _run_demo(settings: Settings, stream: str, plan: TrafficPlan) -> list[SessionResult]:
    """Trace real sessions into O2; Pipecat and the OTel SDK are only imported here."""
    import asyncio

    from instrumentation import setup_openobserve
    from provision.demo.traffic import run_traffic

    assert settings.authorization is not None
    provider = setup_openobserve(
        url=settings.url,
        org=settings.org,
        auth_token=settings.authorization.reveal(),
        stream=stream,
        service_name="pipecat-demo-bot",
        load_env_file=False,
    )
    results = asyncio.run(run_traffic(plan))
    provider.force_flush()
    return results


ENV_EXAMPLE = """\
# OpenObserve connection, read by o2-provision and by the bot's instrumentation.
OPENOBSERVE_URL=http://localhost:5080
OPENOBSERVE_ORG=default
# base64 of 'email:password' (a user or service account of the org), e.g.
#   printf 'you@example.com:password' | base64
OPENOBSERVE_AUTH_TOKEN=
# The traces stream the bot exports to (the `stream` value of the templates).
OPENOBSERVE_STREAM=default
# How the bot shows up in O2 (service_name).
OTEL_SERVICE_NAME=my-voice-bot
"""


def main() -> NoReturn:
    """Run the CLI; every error ends as one line and an exit code, never a traceback."""
    fmt = Format.JSON if _wants_json(sys.argv[1:]) else Format.TEXT
    try:
        code = app(standalone_mode=False)
    except ProvisionError as exc:
        from provision.output import error

        error(exc, fmt is Format.JSON)
        sys.exit(int(exc.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(int(ExitCode.INPUT))
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        from provision.output import error

        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message().removeprefix("error: ") + "\n")
            sys.exit(0)
        error(InputError(exc.format_message()), fmt is Format.JSON)
        sys.exit(int(ExitCode.INPUT))
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _wants_json(argv: list[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg in ("--output=json", "-ojson") or (arg in ("--output", "-o") and argv[i + 1 : i + 2] == ["json"]):
            return True
    return False
