"""A small HTTP file server on 127.0.0.1 with byte-range support, for streaming tests.

It serves the files under one folder (``GET`` and ``HEAD``; a single ``Range: bytes=a-b``,
``a-`` or ``-n`` gives ``206 Partial Content``) and counts the body bytes it sends, so a
test can check how much of a file a streamed read transferred. ``ignore_range=True`` makes
it answer every request with the whole file (``200``), like a server without range support;
``status=503`` (any code) answers every request with that error. ``fail_first=n`` answers the
first n ranged GETs with 500, ``drop_first=n`` sends half the body of the first n ranged GETs
and then closes the connection (transient faults a client should retry).
Used by ``tests/io/test_io_stream.py`` and ``benchmarks/bench_stream.py``.
"""

from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeServer:
    """Serve ``root`` at ``http://127.0.0.1:<port>/`` from a background thread.

    Attributes ``bytes_sent`` (body bytes) and ``requests`` (list of (method, path, range
    header)) grow as clients read. Use as a context manager or call :meth:`stop`.
    """

    def __init__(self, root: str | os.PathLike, *, ignore_range: bool = False,
                 status: int | None = None, fail_first: int = 0, drop_first: int = 0,
                 content_type: str = "application/x-hdf5"):
        self.root = Path(root)
        self.status = status
        self.fail_first = fail_first
        self.drop_first = drop_first
        self.ignore_range = ignore_range
        self.content_type = content_type
        self.bytes_sent = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per small reply

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                rng = self.headers.get("Range")
                with server._lock:
                    server.requests.append((self.command, self.path, rng))
                if server.status is not None:
                    self._reply(server.status, b"server error\n", body)
                    return
                path = server.root / self.path.split("?", 1)[0].lstrip("/")
                if not path.resolve().is_relative_to(server.root.resolve()) or not path.is_file():
                    self._reply(404, b"not found\n", body)
                    return
                size = path.stat().st_size
                start, stop, status = 0, size, 200
                m = _RANGE.match(rng.strip()) if rng and not server.ignore_range else None
                if m and (m.group(1) or m.group(2)):
                    a, b = m.group(1), m.group(2)
                    if a:
                        start, stop = int(a), min(int(b) + 1, size) if b else size
                    else:  # suffix range: the last n bytes
                        start, stop = max(size - int(b), 0), size
                    if start >= size or stop <= start:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                    with server._lock:
                        fail = body and server.fail_first > 0
                        drop = body and not fail and server.drop_first > 0
                        server.fail_first -= fail
                        server.drop_first -= drop
                    if fail:
                        self._reply(500, b"injected failure\n", body)
                        return
                    if drop:  # promise the whole range, send half, hang up
                        stop_sent = start + (stop - start) // 2
                        self.send_response(206)
                        self.send_header("Content-Length", str(stop - start))
                        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
                        self.end_headers()
                        with open(path, "rb") as f:
                            f.seek(start)
                            self.wfile.write(f.read(stop_sent - start))
                        self.wfile.flush()
                        self.close_connection = True
                        return
                self.send_response(status)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(stop - start))
                if not server.ignore_range:
                    self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
                self.end_headers()
                if not body:
                    return
                with open(path, "rb") as f:
                    f.seek(start)
                    left = stop - start
                    try:
                        while left > 0:
                            data = f.read(min(left, 1 << 16))
                            if not data:
                                break
                            with server._lock:  # counted before the client can see them
                                server.bytes_sent += len(data)
                            self.wfile.write(data)
                            left -= len(data)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True  # the client stopped reading

            def _reply(self, status: int, text: bytes, body: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                if body:
                    self.wfile.write(text)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. ``http://127.0.0.1:40123/``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def reset(self) -> None:
        """Zero the byte and request counters."""
        with self._lock:
            self.bytes_sent = 0
            self.requests.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RangeServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


