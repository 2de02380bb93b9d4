"""Running `o2-provision` in this process (fast enough for property-based tests) and judging its output."""

from __future__ import annotations

import base64
import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from provision.cli import main
from tests.conftest import ROOT_PASSWORD, TOKEN

DOCUMENTED_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 130}
ESCAPES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SECRETS = [TOKEN, TOKEN.rstrip("="), ROOT_PASSWORD, base64.b64decode(TOKEN).decode()]


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def assert_one_clean_error(self, *codes: int) -> str:
        """Exit code among codes (or any documented one), one `error:` line on stderr, nothing leaked."""
        assert self.code in (codes or DOCUMENTED_CODES), (self.code, self.err)
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, self.err
        assert lines[0].startswith(("error: ", '{"error"')), lines[0]
        self.assert_clean()
        return lines[0]

    def assert_clean(self) -> None:
        text = self.out + self.err
        assert "Traceback" not in text, text
        for secret in SECRETS:
            assert secret not in text, f"secret {secret[:4]}… printed: {text[:300]}"
        assert not ESCAPES.search(text.replace("\n", "").replace("\t", "")), repr(text[:300])


def run(args: list[str], env: dict[str, str], cwd: Path) -> Outcome:
    """`o2-provision *args` with only these OPENOBSERVE_* variables, in cwd."""
    saved_env, saved_argv, saved_cwd = dict(os.environ), sys.argv, Path.cwd()
    saved_streams = sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    code: int = -1
    try:
        for key in [k for k in os.environ if k.startswith(("OPENOBSERVE_", "OTEL_"))]:
            del os.environ[key]
        os.environ.update(env)  # raises on a value no environment can hold (NUL): a test's mistake, not the CLI's
        sys.argv = ["o2-provision", *args]
        sys.stdout, sys.stderr = out, err
        os.chdir(cwd)
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return Outcome(code, out.getvalue(), err.getvalue())
