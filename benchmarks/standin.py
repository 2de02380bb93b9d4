"""The O2 stand-in as the benchmarks use it.

The stand-in's handler speaks HTTP/1.1 keep-alive and writes the headers and the body of a response in
two ``send`` calls; with Nagle's algorithm on, the body waits for the client's delayed ACK, so every
request costs ~40 ms on loopback that a real O2 does not. The benchmarks switch Nagle off for the
stand-in's sockets (``StreamRequestHandler.disable_nagle_algorithm``, in this process only); the test
suite could do the same with ``disable_nagle_algorithm = True`` on its handler.
"""

from __future__ import annotations

import socketserver
from typing import Any

EMAIL, PASSWORD = "root@example.com", "Complexpass#123"


def start(*, nagle: bool = False) -> Any:
    """A started ``tests.o2_standin.StandIn`` (loopback destinations allowed)."""
    from tests.o2_standin import StandIn

    socketserver.StreamRequestHandler.disable_nagle_algorithm = not nagle
    server = StandIn(root_email=EMAIL, root_password=PASSWORD, allow_loopback=True)
    server.start()
    return server
