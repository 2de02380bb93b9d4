"""`o2-provision`: OpenObserve dashboards and alerts for Pipecat voice bots, as code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from provision.errors import ExitCode, InputError, ProvisionError
from provision.output import Format

if TYPE_CHECKING:
    from provision.config import Settings
    from provision.workflow import Sources

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


def _sources(templates: Path | None, values: list[Path] | None, sets: list[str] | None) -> Sources:
    from provision.workflow import Sources

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
    from provision.files import write_rendered
    from provision.output import emit_json, say, warn
    from provision.workflow import load_bundle

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
    from provision.output import emit_json, say, warn
    from provision.rules import check_bundle
    from provision.workflow import load_bundle

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
) -> None:
    """Compare the templates with O2 and show what apply would change."""
    from provision.output import emit_json, plan_doc, print_plan, say, warn
    from provision.workflow import plan_for, read, validated_bundle

    bundle = validated_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency)
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
) -> None:
    """Converge O2 to the templates: create, update in place, and with --prune delete."""
    from provision.kinds import Kind
    from provision.output import PAST, emit_json, plan_doc, print_plan, result_doc, say, warn
    from provision.plan import Action, Change
    from provision.stream import ensure_stream
    from provision.workflow import execute, plan_for, read, validated_bundle

    if on_error not in ("fail", "continue"):
        raise InputError(f"--on-error must be fail or continue, got {on_error!r}")
    bundle = validated_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency)
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
) -> None:
    """Delete everything o2-provision manages on O2, in reverse dependency order."""
    from provision.output import PAST, emit_json, print_plan, result_doc, say
    from provision.plan import Change
    from provision.workflow import destroy_plan, execute, load_bundle, read

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency)
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
) -> None:
    """What o2-provision manages on O2, and where the server has drifted from the templates."""
    from provision.output import emit_json, plan_doc, print_status
    from provision.workflow import load_bundle, plan_for, read

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure, concurrency)
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
) -> None:
    """Check O2 is reachable, its version, the credentials, the organization, the stream and destinations."""
    from provision.client import O2Client
    from provision.doctor import run_checks
    from provision.output import emit_json, say
    from provision.workflow import load_bundle

    bundle = load_bundle(_sources(templates, values, set_))
    settings = _settings(url, org, token, env_file, timeout, ca_cert, insecure)
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

        error(exc, fmt)
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
        error(InputError(exc.format_message()), fmt)
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
