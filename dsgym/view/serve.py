"""Serving a built site on loopback only, for browsers that restrict ``file://`` pages.

Requests whose ``Host`` is not this machine (a DNS-rebinding page) or that another
site sent (``Origin``, ``Sec-Fetch-Site``) are refused with 403 (``dsgym.http_guard``),
and only ``GET``/``HEAD`` are answered: the pages hold run data that other sites must
not read.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dsgym.http_guard import refusal

HOST = "127.0.0.1"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # every GET and HEAD passes here
        why = refusal({k.lower(): v for k, v in self.headers.items()}, loopback_only=True)
        if why is not None:
            self.send_error(403, why)
            return None
        return super().send_head()


def make_server(root: str | Path, port: int = 0) -> ThreadingHTTPServer:
    """A server for ``root`` on 127.0.0.1 (``port`` 0 picks a free one); call ``serve_forever``."""
    handler = functools.partial(QuietHandler, directory=str(root))
    return ThreadingHTTPServer((HOST, port), handler)


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://{HOST}:{server.server_address[1]}/"
