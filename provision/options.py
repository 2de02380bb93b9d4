"""The options most commands share, declared once and added to each command that takes them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from provision.bundle import Sources
    from provision.config import Settings


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


def _option(*names: str, help: str) -> Any:
    return typer.Option(*names, help=help)


@dataclass(frozen=True)
class Common:
    """Values of the shared options; a command sees only the groups it asked for (others keep defaults)."""

    # bundle: which templates and values
    values: Annotated[list[Path] | None, _option("--values", "-f", help="YAML or TOML values file (repeatable)")] = None
    sets: Annotated[list[str] | None, _option("--set", help="override one value: key=value (repeatable)")] = None
    templates: Annotated[
        Path | None, _option("--templates", help="your own templates folder, laid out like the built-in one")
    ] = None
    # connection: where O2 is and how to talk to it
    url: Annotated[
        str | None, _option("--url", help="O2 base URL [env OPENOBSERVE_URL; default http://localhost:5080]")
    ] = None
    org: Annotated[str | None, _option("--org", help="O2 organization [env OPENOBSERVE_ORG; default default]")] = None
    token: Annotated[
        str | None,
        _option("--token", help="'Basic <base64>' or the base64 of email:password; prefer OPENOBSERVE_AUTH_TOKEN"),
    ] = None
    env_file: Annotated[Path, _option("--env-file", help="dotenv file read after the environment")] = Path(".env")
    timeout: Annotated[float, _option("--timeout", help="seconds per HTTP request")] = 10.0
    ca_cert: Annotated[Path | None, _option("--ca-cert", help="CA bundle to verify O2's TLS certificate")] = None
    insecure: Annotated[bool, _option("--insecure", help="do not verify O2's TLS certificate")] = False
    concurrency: Annotated[int, _option("--concurrency", help="requests in flight at once")] = 8
    verbose: Annotated[bool, _option("--verbose", "-v", help="log each HTTP request to stderr")] = False
    # output
    output: Annotated[Format, _option("--output", "-o", help="text for people, json for CI")] = Format.TEXT

    @property
    def json(self) -> bool:
        return self.output is Format.JSON

    def sources(self) -> Sources:
        from provision.bundle import Sources

        return Sources(
            templates=self.templates, values_files=list(self.values or []), assignments=list(self.sets or [])
        )

    def settings(self) -> Settings:
        from provision.config import load_settings
        from provision.output import warn

        return load_settings(
            url=self.url,
            org=self.org,
            token=self.token,
            env_file=self.env_file,
            timeout=self.timeout,
            ca_cert=self.ca_cert,
            insecure=self.insecure,
            concurrency=self.concurrency,
            verbose=self.verbose,
            warn=warn,
        )


VALUES = ("values", "sets")
BUNDLE = (*VALUES, "templates")
CONNECTION = ("url", "org", "token", "env_file", "timeout", "ca_cert", "insecure", "concurrency", "verbose")
OUTPUT = ("output",)

F = TypeVar("F", bound=Callable[..., Any])

_ANNOTATIONS = inspect.get_annotations(Common, eval_str=True)
# Each shared option as a keyword-only parameter, built once at import for every command to reuse.
_PARAMETERS = {
    f.name: inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=_ANNOTATIONS[f.name]
    )
    for f in fields(Common)
}


def shared(*groups: tuple[str, ...]) -> Callable[[F], F]:
    """Give a command the options of these groups; it receives them as its `opts: Common` argument."""
    names = [name for group in groups for name in group]
    added = [_PARAMETERS[name] for name in names]

    def decorate(func: F) -> F:
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "opts"]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            opts = Common(**{name: kwargs.pop(name) for name in names})
            return func(opts=opts, **kwargs)

        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
        command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        del command.__wrapped__
        return command  # type: ignore[return-value]

    return decorate
