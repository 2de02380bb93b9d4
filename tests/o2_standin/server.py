"""HTTP front: request parsing, faults, routing, auth, org checks, logging."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import sys
import time
import traceback
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import App, RequestRecord
from .auth import authenticate
from .httpio import HttpError, Request, Response, msg, text_resp
from .router import Router


def _decode_body(body: bytes, encoding: str) -> bytes | None:
    """Return decoded body, or None for an unsupported encoding."""
    enc = encoding.strip().lower()
    if not enc or enc == "identity":
        return body
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    if enc == "snappy":
        return body
    if enc == "zstd":
        try:
            import zstandard

            return bytes(zstandard.ZstdDecompressor().decompress(body))
        except ImportError:
            return None
    if enc == "br":
        try:
            import brotli

            return bytes(brotli.decompress(body))
        except ImportError:
            return None
    return None


def dispatch(app: App, router: Router, req: Request) -> Response:
    resolved = router.resolve(req.path)
    if resolved is None:
        return Response(404)
    route, params = resolved
    method = req.method
    handler = route.methods.get(method)
    if handler is None and method == "HEAD":
        handler = route.methods.get("GET")
    if handler is None:
        return Response(405)
    req.params = {k: urllib.parse.unquote(v) for k, v in params.items()}
    if route.auth:
        if "content-type" not in req.headers:
            req.headers["content-type"] = "application/x-www-form-urlencoded"
        fail = authenticate(app, req)
        if fail is not None:
            return fail
        org = req.params.get("org", "")
        if route.ingestion and req.headers.get("organization"):
            org = req.headers["organization"]
        if org:
            if not app.store.org_exists(org):
                if route.ingestion and req.user == app.config.root_email.lower():
                    app.store.ensure_org(org)
                else:
                    return text_resp(404, "Organization not found")
            req.org = org
    try:
        return handler(app, req)
    except HttpError as e:
        return e.response


def make_handler(app: App, router: Router) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes: without TCP_NODELAY a kept-alive connection
        # waits ~40 ms per request on the client's delayed ACK.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"
        server_version = "o2-standin"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            raw_path = self.path
            if raw_path.startswith("http://") or raw_path.startswith("https://"):
                raw_path = urllib.parse.urlsplit(raw_path)._replace(scheme="", netloc="").geturl()
            path, _, query = raw_path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            is_hook = path.startswith("/_standin")
            resp: Response
            if not is_hook:
                for f in app.faults.match(self.command, path):
                    if f.kind == "latency":
                        time.sleep(f.seconds)
                    elif f.kind == "drop":
                        app.record_request(RequestRecord(self.command, path, query, 0))
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    elif f.kind == "status":
                        resp = msg(f.status, "injected fault")
                        app.record_request(RequestRecord(self.command, path, query, f.status))
                        self._send(resp, path)
                        return
            enc = headers.pop("content-encoding", "")
            try:
                decoded = _decode_body(body, enc) if body else body
            except (OSError, zlib.error, EOFError):
                decoded = b""
            if decoded is None:
                resp = Response(415)
            else:
                req = Request(self.command, path, query, headers, decoded)
                try:
                    resp = dispatch(app, router, req)
                except Exception as e:  # pragma: no cover - defensive
                    traceback.print_exc()
                    resp = msg(500, f"stand-in internal error: {e}")
            # Logged before answering, so a client that has its answer also finds its request in the log.
            if not is_hook:
                app.record_request(RequestRecord(self.command, path, query, resp.status))
            self._send(resp, path)

        def _send(self, resp: Response, path: str) -> None:
            self.send_response(resp.status)
            if resp.content_type:
                self.send_header("Content-Type", resp.content_type)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if path.startswith("/api"):
                self.send_header("x-api-node", app.config.instance)
            body = b"" if self.command == "HEAD" else resp.body
            self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else len(resp.body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        do_GET = _handle
        do_POST = _handle
        do_PUT = _handle
        do_DELETE = _handle
        do_PATCH = _handle
        do_HEAD = _handle
        do_OPTIONS = _handle

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, dropped connection) is part of the tests, not a server error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
