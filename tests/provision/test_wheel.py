"""The built wheel is complete: installed into a fresh venv outside the checkout, `render` and `demo` work.

Slow (about 20 s, marked `slow`): it builds the wheel with pip (setuptools in an isolated build environment,
from the configured index), and installs it without dependencies into a fresh venv that reuses this venv's
installed packages (a `.pth` line: this venv's editable finder for the checkout is not run there).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.o2_standin import StandIn

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_builds_quietly_and_installed_alone_renders_and_runs_the_demo(tmp_path: Path, o2: StandIn) -> None:
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", tmp_path / "dist", ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "would be ignored" not in built.stdout + built.stderr  # setuptools knows every templates folder
    (wheel,) = (tmp_path / "dist").glob("o2_provision-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.*"))
    assert sorted(n.removeprefix("provision/templates/") for n in names if n.startswith("provision/templates/")) == [
        t for t in templates if not t.endswith(".pyc")
    ]
    assert "provision/demo/fakes/openai.py" in names and not any(n.startswith("tests/") for n in names)

    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path).returncode == 0
    (fresh_site,) = (venv / "lib").glob("python3*/site-packages")
    (fresh_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENOBSERVE_", "OTEL_", "PYTHON"))}
    env.update(OPENOBSERVE_URL=o2.url, OPENOBSERVE_AUTH_TOKEN=TOKEN)
    where = run(
        venv / "bin" / "python",
        "-c",
        "import provision, instrumentation; print(provision.__file__, instrumentation.__file__)",
        cwd=work,
        env=env,
    )
    assert where.stdout.split() and all(p.startswith(str(fresh_site)) for p in where.stdout.split()), where

    cli = venv / "bin" / "o2-provision"
    hook = "--set=webhook_url=http://127.0.0.1:9/hook"
    rendered = run(cli, "render", hook, cwd=work, env=env)
    assert rendered.returncode == 0, rendered.stderr
    kinds = {r["kind"] for r in json.loads(rendered.stdout)}
    assert {"dashboard", "alert", "destination", "alert_template"} <= kinds
    assert run(cli, "apply", "--yes", "--bootstrap-stream", hook, cwd=work, env=env).returncode == 0
    demo = run(cli, "demo", "--sessions", "1", "--turns", "2", "--slow", "0", "--fail", "1", hook, cwd=work, env=env)
    assert demo.returncode == 0, demo.stderr
    assert "turn 2: LLM call failed" in demo.stdout
