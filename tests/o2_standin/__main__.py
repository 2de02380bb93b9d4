"""`python -m tests.o2_standin --port N`: serve until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from .standin import StandIn


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.o2_standin")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    s = StandIn(port=args.port)
    url = s.start()
    print(f"O2 stand-in listening on {url}", flush=True)
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not done.wait(0.5):
        pass
    s.stop()


if __name__ == "__main__":
    main()
