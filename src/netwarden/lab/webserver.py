"""The lab's web server: answers every GET with the Host it was asked for.

Run as ``python -m netwarden.lab.webserver --bind ADDR:PORT [--bind ...]``
inside the lab's internet namespace. Because the lab's upstream answers
every name with this server's address, the response tells a test which
name the client really asked for.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

BANNER = "netwarden lab web server"


def parse_bind(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` or ``[IPV6]:PORT`` into (address, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: expected ADDR:PORT or [IPV6]:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host)
    except ValueError as err:
        raise ValueError(f"{text!r}: {host!r} is not an IP address") from err
    if address.version == 6 and not text.startswith("["):
        raise ValueError(f"{text!r}: write an IPv6 address in brackets")
    return str(address), int(port_text)


def render_bind(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


MAX_BULK_BYTES = 1 << 30


def bulk_size(path: str) -> int | None:
    """N for a ``/bytes/N`` path (at most 1 GiB), else None."""
    prefix, _, number = path.partition("/bytes/")
    if prefix or not number.isdigit() or int(number) > MAX_BULK_BYTES:
        return None
    return int(number)


def response_text(host: str | None) -> str:
    return f"{BANNER}: host={host or '-'}\n"


class HostEchoHandler(BaseHTTPRequestHandler):
    """Names the Host asked for; ``/bytes/N`` sends N bytes for bulk tests.

    HTTP/1.1 keeps connections open between requests, as real servers do,
    so a test can make many requests over one connection.
    """

    server_version = "netwarden-lab"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        size = bulk_size(self.path)
        if size is None:
            self._send_text(response_text(self.headers.get("Host")).encode())
            return
        self._send_headers(size)
        chunk = b"x" * 65536
        for offset in range(0, size, len(chunk)):
            self.wfile.write(chunk[: size - offset])

    def do_HEAD(self) -> None:
        self._send_headers(len(response_text(self.headers.get("Host")).encode()))

    def _send_text(self, body: bytes) -> None:
        self._send_headers(len(body))
        self.wfile.write(body)

    def _send_headers(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        logger.info("%s %s", self.client_address[0], format % args)


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(address: str, port: int) -> ThreadingHTTPServer:
    server_class = _IPv6Server if ":" in address else ThreadingHTTPServer
    server = server_class((address, port), HostEchoHandler)
    server.daemon_threads = True
    return server


def serve(binds: Sequence[tuple[str, int]]) -> None:
    """Serve on every address until interrupted."""
    servers = [make_server(address, port) for address, port in binds]
    threads = [
        threading.Thread(target=server.serve_forever, daemon=True) for server in servers
    ]
    for thread in threads:
        thread.start()
    logger.info("serving on %s", ", ".join(render_bind(*bind) for bind in binds))
    try:
        threading.Event().wait()
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netwarden.lab.webserver")
    parser.add_argument("--bind", action="append", required=True, metavar="ADDR:PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        binds = [parse_bind(text) for text in args.bind]
        serve(binds)
    except ValueError as err:
        parser.error(str(err))
    except OSError as err:
        print(f"webserver: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
