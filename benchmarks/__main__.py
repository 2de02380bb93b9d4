"""``python -m benchmarks [--quick] [--only NAME ...] [--out FILE]``: run every benchmark, each in its own process."""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import sys
from pathlib import Path

from benchmarks.stats import load

BENCHMARKS = ("calls", "overhead", "paired", "spancost", "trouble", "cli_startup", "apply", "queries")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run of each benchmark")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--out", type=Path, help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    header = [
        f"# o2-provision benchmarks ({'quick' if args.quick else 'full'} run)",
        "",
        f"{datetime.datetime.now().isoformat(timespec='seconds')}; {platform.platform()}; "
        f"Python {platform.python_version()}; {load()} at start",
        "",
    ]
    print("\n".join(header), flush=True)
    report = list(header)
    failed = 0
    for name in args.only or BENCHMARKS:
        cmd = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        out = proc.stdout.rstrip()
        if proc.returncode != 0:
            failed += 1
            out += f"\n\n**{name} failed ({proc.returncode})**\n```\n{proc.stderr[-3000:]}\n```"
        print(out + "\n", flush=True)
        report.append(out + "\n")
    if args.out is not None:
        args.out.write_text("\n".join(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
