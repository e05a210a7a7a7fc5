"""``agentlab view``'s HTTP server: the standard library's threading server, GET only.

Routes: ``/`` the app shell, ``/static/<file>`` its JS/CSS (package data), ``/api/<kind>``
the page data from :class:`agentlab.viewer.api.Api`. Every request opens nothing new: the
read-only store handle is shared, and each query checks out its own pooled connection.
"""

from __future__ import annotations

import contextlib
import ipaddress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agentlab.viewer.api import Api, Reply

STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def static_file(name: str) -> bytes | None:
    """A file shipped in ``agentlab/viewer/static`` (flat names only), or None."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    ref = resources.files("agentlab.viewer") / "static" / name
    return ref.read_bytes() if ref.is_file() else None


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _Handler(BaseHTTPRequestHandler):
    api: Api
    bound_host: str
    quiet = True

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        # The browser may move on before a page part arrives: nothing to report then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(reply.body)

    def _host_allowed(self) -> bool:
        """On loopback, answer only requests addressed to loopback: a web page elsewhere that
        rebinds its own DNS name to 127.0.0.1 must not read the store."""
        if not is_loopback(self.bound_host):
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return is_loopback(host)

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._send(Reply(403, "text/plain", b"this viewer answers loopback addresses only"))
            return
        url = urlsplit(self.path)
        path = url.path
        if path in ("/", "/index.html"):
            body = static_file("index.html") or b""
            self._send(Reply(200, "text/html; charset=utf-8", body))
        elif path.startswith("/static/"):
            name = path.removeprefix("/static/")
            found = static_file(name)
            if found is None:
                self._send(Reply(404, "text/plain", b"no such file"))
            else:
                kind = STATIC_TYPES.get(name[name.rfind(".") :], "application/octet-stream")
                self._send(Reply(200, kind + "; charset=utf-8", found))
        elif path.startswith("/api/"):
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            self._send(self.api.handle(path.removeprefix("/api/"), params))
        else:
            self._send(Reply(404, "text/plain", b"no such page; start at /"))

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


def make_server(api: Api, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0 picks a free one); call serve_forever()."""
    handler = type("Handler", (_Handler,), {"api": api, "bound_host": host})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
