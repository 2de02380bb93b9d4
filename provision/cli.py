"""`o2-provision`: OpenObserve dashboards and alerts for Pipecat voice bots, as code.

Commands stay thin: they parse options, call the modules that do the work (imported inside each
command, so `--help` and `render` start fast), and print.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from provision.errors import ExitCode, InputError, Interrupted, NotFoundError, ProvisionError
from provision.options import BUNDLE, CONNECTION, OUTPUT, VALUES, Common, shared

app = typer.Typer(
    name="o2-provision",
    help="Provision OpenObserve dashboards, alerts, destinations and alert templates for Pipecat bots.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")]
Prune = Annotated[bool, typer.Option("--prune", help="also delete managed resources no longer declared")]


@app.command()
@shared(OUTPUT)
def init(
    opts: Common,
    templates_dir: Annotated[
        Path | None, typer.Option("--templates", help="also copy the built-in templates here, to customise")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
) -> None:
    """Write .env.example and o2-values.yaml (commented); with --templates, a copy of the templates."""
    from provision.files import copy_templates, write_new
    from provision.output import emit_json, say
    from provision.render import builtin_templates

    written = [Path(".env.example"), Path("o2-values.yaml")]
    for path in written:
        if path.exists() and not force:
            raise InputError(f"{path} already exists (use --force to overwrite)")
    builtin = builtin_templates()
    write_new(written[0], (builtin / "env.example").read_text(encoding="utf-8"), force=force)
    write_new(written[1], (builtin / "values.yaml").read_text(encoding="utf-8"), force=force)
    if templates_dir is not None:
        copy_templates(builtin, templates_dir, force=force)
        written.append(templates_dir)
    if opts.json:
        emit_json({"written": [str(p) for p in written]})
        return
    for path in written:
        say(f"wrote {path}")
    say("Next: cp .env.example .env, fill in the token, then `o2-provision plan -f o2-values.yaml`.")


@app.command()
@shared(BUNDLE, CONNECTION, OUTPUT)
def doctor(opts: Common) -> None:
    """Check O2 is reachable, its version, the credentials, the organization, the stream and destinations."""
    from provision.bundle import load_bundle
    from provision.client import O2Client
    from provision.doctor import run_checks
    from provision.output import emit_json, say

    bundle = load_bundle(opts.sources())
    with O2Client(opts.settings(), retries=0) as client:
        checks = run_checks(client, bundle)
    if opts.json:
        emit_json({"checks": [asdict(c) for c in checks]})
    else:
        for check in checks:
            fix = f" -> {check.fix}" if check.fix and check.status != "ok" else ""
            say(f"{check.status:4}  {check.name}: {check.detail}{fix}")
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(int(ExitCode.INPUT))


@app.command()
@shared(BUNDLE, OUTPUT)
def render(
    opts: Common,
    out: Annotated[Path | None, typer.Option("--out", help="write one JSON file per resource here")] = None,
) -> None:
    """Render the templates with the values into the exact JSON payloads; no network."""
    from provision.bundle import load_bundle
    from provision.files import write_rendered
    from provision.output import emit_json, say, warn

    bundle = load_bundle(opts.sources())
    for note in bundle.notes:
        warn(note)
    if out is None:
        emit_json(
            [{"kind": r.kind.value, "name": r.key, "source": r.source, "payload": r.payload} for r in bundle.resources]
        )
        return
    written = write_rendered(out, bundle)
    if opts.json:
        emit_json({"written": [str(p) for p in written]})
    else:
        say(f"Wrote {len(written)} payload(s) to {out}")


@app.command()
@shared(BUNDLE, OUTPUT)
def validate(opts: Common) -> None:
    """Render, then check every payload against O2's rules; no network."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, say, warn
    from provision.rules import check_bundle

    bundle = load_bundle(opts.sources())
    problems = check_bundle(bundle)
    if opts.json:
        emit_json(
            {"valid": not problems, "problems": problems, "notes": bundle.notes, "resources": len(bundle.resources)}
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
@shared(BUNDLE, CONNECTION, OUTPUT)
def plan(
    opts: Common,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="exit 0 with no changes, 2 with changes, 1 on error")
    ] = False,
    prune: Prune = False,
) -> None:
    """Compare the templates with O2 and show what apply would change."""
    from provision.bundle import validated_bundle
    from provision.output import emit_json, plan_doc, print_plan, say, warn
    from provision.workflow import plan_for, read

    bundle = validated_bundle(opts.sources())
    settings = opts.settings()
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=prune)
    if opts.json:
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
@shared(BUNDLE, CONNECTION, OUTPUT)
def apply(
    opts: Common,
    yes: Yes = False,
    prune: Prune = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only show the plan")] = False,
    on_error: Annotated[
        str, typer.Option("--on-error", help="fail: stop after the first failing step; continue")
    ] = "fail",
    bootstrap_stream: Annotated[
        bool, typer.Option("--bootstrap-stream", help="send one marker span so a fresh O2 has the traces stream")
    ] = False,
) -> None:
    """Converge O2 to the templates: create, update in place, and with --prune delete."""
    from provision.bundle import validated_bundle
    from provision.kinds import Kind
    from provision.output import emit_json, plan_doc, print_plan, print_progress, result_doc, say, summary, warn
    from provision.plan import Action
    from provision.stream import ensure_stream, explain_failure, missing_stream_hint, stream_exists
    from provision.workflow import execute, plan_for, read

    if on_error not in ("fail", "continue"):
        raise InputError(f"--on-error must be fail or continue, got {on_error!r}")
    bundle = validated_bundle(opts.sources())
    settings = opts.settings()
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=prune)
        if not opts.json:
            for note in bundle.notes:
                warn(note)
            say(f"O2 {settings.url}, organization {settings.org}")
            print_plan(the_plan)
        if dry_run or not the_plan.pending():
            if opts.json:
                emit_json(plan_doc(the_plan, bundle.notes))
            if the_plan.blocked:
                raise typer.Exit(int(ExitCode.CONFLICT))
            return
        if not opts.json and not _confirm("Apply these changes?", yes):
            say("Nothing applied.")
            raise typer.Exit(int(ExitCode.INPUT))
        stream = bundle.values.stream
        if any(c.kind is Kind.ALERT and c.action is Action.CREATE for c in the_plan.pending()):
            # O2 refuses an alert on a stream it does not have: find out before writing anything.
            if bootstrap_stream:
                if ensure_stream(session.client, stream) and not opts.json:
                    say(f"Sent one marker span so stream {stream!r} exists.")
            elif not stream_exists(session.client, stream):
                raise NotFoundError(
                    f"Stream {stream} not found on O2; nothing was applied", hint=missing_stream_hint(stream)
                )
        progress = None if opts.json else print_progress
        result = execute(session, bundle, the_plan, stop_on_error=on_error == "fail", progress=progress)
        stats = session.client.stats
    if opts.json:
        emit_json({**result_doc(result, the_plan), "requests": {"reads": stats.reads, "writes": stats.writes}})
    else:
        say(summary("Apply", result, the_plan) + f" ({stats.reads} reads, {stats.writes} writes).")
    if result.interrupted:
        raise _interrupted()
    if result.failed:
        first = result.failed[0].error
        raise type(first)(first.message, hint=explain_failure(first, bundle.values.stream) or first.hint)
    if the_plan.blocked:
        raise typer.Exit(int(ExitCode.CONFLICT))


@app.command()
@shared(VALUES, CONNECTION, OUTPUT)
def pull(
    opts: Common,
    templates_dir: Annotated[
        Path, typer.Option("--templates", help="write the templates here (with --force, based on those already there)")
    ] = Path("o2-templates"),
    force: Annotated[bool, typer.Option("--force", help="overwrite the folder when it is not empty")] = False,
    dashboards: Annotated[
        list[str] | None,
        typer.Option("--dashboard", help="also a dashboard made by hand, by title, to bring under management"),
    ] = None,
) -> None:
    """Write the managed dashboards and alerts as O2 holds them back into templates; O2 is not changed.

    With --dashboard, a hand-made dashboard is written as a template too: the next apply creates it, managed,
    in the values' folder, and leaves the hand-made one as it is.
    """
    from provision.bundle import Sources, load_bundle
    from provision.files import write_templates
    from provision.kinds import Kind
    from provision.output import emit_json, say, warn
    from provision.pull import adopted_dashboards, check_pulled, pull_plan
    from provision.workflow import plan_for, read

    if templates_dir.exists() and not templates_dir.is_dir():
        raise InputError(f"{templates_dir} exists and is not a folder")
    if templates_dir.is_dir() and any(templates_dir.iterdir()) and not force:
        raise InputError(f"{templates_dir} is not empty (use --force to overwrite)")
    sources = opts.sources()
    if (templates_dir / "values.yaml").is_file():  # --force on a templates folder: its templates are the base
        sources = Sources(templates_dir, sources.values_files, sources.assignments)
    bundle = load_bundle(sources)
    settings = opts.settings()
    chosen = list(dashboards or [])
    session = read(settings, bundle, frozenset((Kind.DASHBOARD, title) for title in chosen))
    with session.client:
        pulled = pull_plan(plan_for(session, bundle, prune=True), bundle.resources, bundle.values)
    pulled += adopted_dashboards(session.state, chosen, bundle.resources, bundle.values)

    files = {p.path: p.text for p in pulled if p.text is not None}
    adopted = frozenset(p.key for p in pulled if p.action == "adopted")
    write_templates(
        sources.root,
        templates_dir,
        files,
        force=force,
        check=lambda tree: check_pulled(tree, sources, session.state, adopted),
    )
    if opts.json:
        emit_json(
            {
                "written": str(templates_dir),
                "resources": [
                    {"kind": p.kind.value, "name": p.key, "template": p.path, "action": p.action} for p in pulled
                ],
            }
        )
        return
    for note in bundle.notes:
        warn(note)
    say(f"O2 {settings.url}, organization {settings.org}")
    for p in pulled:
        why = {
            "pulled": "O2's copy",
            "kept": "O2 matches it",
            "not on O2": "not on O2; the template is kept",
            "adopted": f"made by hand; apply creates it, managed, in folder {bundle.values.folder!r}",
        }[p.action]
        say(f"  {p.action:9} {p.kind.label:15} {p.key} -> {p.path} ({why})")
    counts = {a: sum(1 for p in pulled if p.action == a) for a in ("pulled", "kept", "adopted")}
    adopted_count = f", {counts['adopted']} adopted" if counts["adopted"] else ""
    say(
        f"Wrote {templates_dir}: {counts['pulled']} pulled, {counts['kept']} kept{adopted_count}; "
        "nothing on O2 was changed."
    )


@app.command()
@shared(BUNDLE, CONNECTION, OUTPUT)
def status(opts: Common) -> None:
    """What o2-provision manages on O2, and where the server has drifted from the templates."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, plan_doc, print_status
    from provision.workflow import plan_for, read

    bundle = load_bundle(opts.sources())
    settings = opts.settings()
    session = read(settings, bundle)
    with session.client:
        the_plan = plan_for(session, bundle, prune=True)
    if opts.json:
        emit_json(plan_doc(the_plan, bundle.notes))
    else:
        print_status(the_plan, settings.url, settings.org)


@app.command()
@shared(BUNDLE, CONNECTION, OUTPUT)
def report(
    opts: Common,
    since: Annotated[str, typer.Option("--since", help="time range ending now: 30s, 15m, 1h, 2d")] = "1h",
    rows: Annotated[int, typer.Option("--rows", help="rows shown per panel")] = 10,
) -> None:
    """Print what the dashboards show over a time range: every panel's query, run through _search."""
    from provision.bundle import load_bundle
    from provision.client import O2Client
    from provision.output import emit_json, say
    from provision.report import print_report, report_doc, run_report, time_range

    if rows < 1:
        raise InputError(f"--rows must be at least 1, got {rows}")
    start_us, end_us = time_range(since)
    bundle = load_bundle(opts.sources())
    settings = opts.settings()
    with O2Client(settings) as client:
        results = run_report(client, bundle, start_us, end_us, settings.concurrency)
    if opts.json:
        emit_json(report_doc(results, start_us, end_us))
    else:
        say(f"O2 {settings.url}, organization {settings.org}, stream {bundle.values.stream!r}, last {since}")
        print_report(results, rows)
    failed = [r for r in results if r.error]
    if failed and len(failed) == len(results):
        raise InputError(f"every panel query failed, e.g. {failed[0].query.panel_title!r}: {failed[0].error}")


@app.command()
@shared(BUNDLE, CONNECTION, OUTPUT)
def demo(
    opts: Common,
    sessions: Annotated[int, typer.Option("--sessions", help="conversations to run")] = 2,
    turns: Annotated[int, typer.Option("--turns", help="user turns per conversation")] = 3,
    slow: Annotated[int, typer.Option("--slow", help="turns answered slower than slow_turn_ms")] = 1,
    fail: Annotated[int, typer.Option("--fail", help="turns whose LLM call fails")] = 1,
    model: Annotated[str, typer.Option("--model", help="model name the fake LLM answers as")] = "gpt-4o-mini",
) -> None:
    """Send real bot traffic to O2: Pipecat sessions against a local fake LLM, traced by the instrumentation."""
    from provision.bundle import load_bundle
    from provision.demo import quiet_pipecat
    from provision.output import emit_json, say

    if sessions < 1 or turns < 1:
        raise InputError("--sessions and --turns must be at least 1")
    if slow < 0 or fail < 0 or slow + fail > sessions * turns:
        raise InputError(f"--slow + --fail must be between 0 and the {sessions * turns} turns of the run")
    bundle = load_bundle(opts.sources())
    settings = opts.settings()
    quiet_pipecat(opts.verbose)
    from provision.demo.traffic import TrafficPlan, slow_turns_of, trace_traffic

    traffic = TrafficPlan(
        sessions, turns, slow, fail, slow_seconds=bundle.values.slow_turn_ms / 1000 + 0.5, model=model
    )
    results = trace_traffic(settings, bundle.values.stream, traffic)
    slow_turns = slow_turns_of(traffic, results)
    if opts.json:
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
                                "slow": (r.session_id, t.number) in slow_turns,
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
                state += f", slow (the LLM took {traffic.slow_seconds:.1f}s to answer)"
            say(f"  turn {turn.number}: {state}")
    say(f"Traffic sent to {settings.url} (stream {bundle.values.stream!r}); see it with `o2-provision report`.")


@app.command()
@shared(BUNDLE, CONNECTION, OUTPUT)
def destroy(opts: Common, yes: Yes = False) -> None:
    """Delete everything o2-provision manages on O2, in reverse dependency order."""
    from provision.bundle import load_bundle
    from provision.output import emit_json, print_plan, print_progress, result_doc, say, summary
    from provision.workflow import destroy_plan, execute, read

    bundle = load_bundle(opts.sources())
    session = read(opts.settings(), bundle)
    with session.client:
        the_plan = destroy_plan(session, bundle)
        if not the_plan.pending():
            if opts.json:
                emit_json({"done": [], "failed": [], "skipped": [], "unchanged": 0})
            else:
                say("Nothing to destroy: no resource on the server is managed by o2-provision.")
            return
        if not opts.json:
            print_plan(the_plan)
        if not yes:
            if not sys.stdin.isatty():
                raise InputError("destroy deletes resources: pass --yes to confirm when there is no terminal")
            if not typer.confirm(f"Delete these {len(the_plan.pending())} resources?", default=False):
                say("Nothing deleted.")
                raise typer.Exit(int(ExitCode.INPUT))
        progress = None if opts.json else print_progress
        result = execute(session, bundle, the_plan, stop_on_error=False, progress=progress)
    if opts.json:
        emit_json(result_doc(result, the_plan))
    else:
        say(summary("Destroy", result, the_plan) + ".")
    if result.interrupted:
        raise _interrupted()
    if result.failed:
        raise result.failed[0].error


def _interrupted() -> Interrupted:
    from provision.interrupts import report

    message, hint = report()
    return Interrupted(message, hint=hint)


def _confirm(question: str, yes: bool) -> bool:
    """True when the user agreed, or said --yes; never waits without a terminal."""
    if yes or not sys.stdin.isatty():
        return True
    return bool(typer.confirm(question, default=False))


def main() -> NoReturn:
    """Run the CLI; every error ends as one line and an exit code, never a traceback.

    Everything printed goes through a guard that removes known secrets and terminal escapes.
    """
    from provision.scrub import Guarded

    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Guarded(real[0]), Guarded(real[1])
    try:
        _run()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = real


def _run() -> NoReturn:
    from provision import interrupts

    as_json = _wants_json(sys.argv[1:])
    with interrupts.command(_command_name(sys.argv[1:])):
        code = _dispatch(as_json)
        if interrupts.pressed() and code != ExitCode.INTERRUPTED:  # pressed once the outcome was known
            _report(_interrupted(), as_json)
            code = int(ExitCode.INTERRUPTED)
    sys.exit(code)


def _dispatch(as_json: bool) -> int:
    """Run the command; its exit code, every error reported as one line."""
    from provision import interrupts

    try:
        try:
            code = app(standalone_mode=False)
        finally:
            interrupts.settle()
    except interrupts.Interrupt:
        return _report(_interrupted(), as_json)
    except ProvisionError as exc:
        return _report(exc, as_json)
    except typer.Exit as exc:
        if exc.exit_code == ExitCode.INTERRUPTED and isinstance(exc.__cause__, KeyboardInterrupt):
            return _report(_interrupted(), as_json)  # typer's silent exit for a KeyboardInterrupt
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        return int(ExitCode.INPUT)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message().removeprefix("error: ") + "\n")
            return 0
        return _report(InputError(exc.format_message()), as_json)
    except KeyboardInterrupt:
        return _report(_interrupted(), as_json)
    return code if isinstance(code, int) else 0


def _report(exc: ProvisionError, as_json: bool) -> int:
    from provision.output import error

    error(exc, as_json)
    return int(exc.exit_code)


def _command_name(argv: list[str]) -> str:
    """The command the arguments name (for the line a second Ctrl-C prints), apply when there is none."""
    return next((arg for arg in argv if not arg.startswith("-")), "apply")


def _wants_json(argv: list[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg in ("--output=json", "-ojson") or (arg in ("--output", "-o") and argv[i + 1 : i + 2] == ["json"]):
            return True
    return False
