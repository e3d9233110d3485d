"""A fault-injecting HTTP server on 127.0.0.1 that serves a folder in the bucket layout.

``FaultServer(root, prefix="/visual-coding-2p/")`` serves ``root/<key>`` at
``<url><key>`` with HEAD, GET, single ``Range: bytes=N-`` / ``N-M`` requests (206 with
Content-Range) and the MD5 of each file as its ETag, like S3 does for single-part objects.
Faults are queued per key and consumed one per GET (``"HEAD:" + key`` for HEAD requests):

``drop``          headers for the whole answer, half the body, then the connection closes
``500``           HTTP 500
``slow``          nothing for ``slow_s`` seconds (longer than the client's timeout)
``stall``         the headers and a few bytes, then nothing for ``slow_s`` seconds
``long_length``   a Content-Length 100 bytes larger than the body (then the connection closes)
``short_length``  a Content-Length 10 bytes smaller than the file, and only that many bytes
``corrupt``       one byte of the body flipped (the ETag still the true MD5)
``no_range``      the Range header ignored (200 with the whole file)

Server-wide switches: ``ignore_range`` (every request answered 200 from byte 0),
``etag`` (``"md5"``, ``"multipart"`` (an S3 multipart-style ETag that is not an MD5) or
``None``), ``throttle_s`` (a pause after each 16 KiB block). ``log`` lists
``(method, key, range header)`` of every request.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BLOCK = 16 * 1024


class FaultServer:
    def __init__(self, root: Path, prefix: str = "/visual-coding-2p/") -> None:
        self.root = Path(root)
        self.prefix = prefix
        self.faults: dict[str, list[str]] = {}
        self.ignore_range = False
        self.etag: str | None = "md5"
        self.throttle_s = 0.0
        self.slow_s = 2.0
        self.log: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._md5: dict[str, str] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def inject(self, key: str, *faults: str) -> None:
        with self._lock:
            self.faults.setdefault(key, []).extend(faults)

    def next_fault(self, key: str) -> str | None:
        with self._lock:
            queue = self.faults.get(key)
            return queue.pop(0) if queue else None

    def md5(self, key: str) -> str:
        with self._lock:
            if key not in self._md5:
                self._md5[key] = hashlib.md5((self.root / key).read_bytes()).hexdigest()
            return self._md5[key]

    def gets(self, key: str) -> list[str | None]:
        """Range headers of the GET requests of ``key`` so far."""
        return [r for m, k, r in list(self.log) if m == "GET" and k == key]


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _key(self) -> str | None:
            path = self.path.split("?")[0]
            if not path.startswith(server.prefix):
                return None
            key = path[len(server.prefix):]
            if not key or ".." in key.split("/") or not (server.root / key).is_file():
                return None
            return key

        def do_HEAD(self) -> None:
            key = self._key()
            server.log.append(("HEAD", key or self.path, None))
            if key is None:
                self.send_error(404)
                return
            if server.next_fault("HEAD:" + key) == "500":
                self.send_error(500)
                return
            self.send_response(200)
            self.send_header("Content-Length", str((server.root / key).stat().st_size))
            self._etag(key)
            self.end_headers()

        def _etag(self, key: str) -> None:
            if server.etag == "md5":
                self.send_header("ETag", f'"{server.md5(key)}"')
            elif server.etag == "multipart":
                self.send_header("ETag", f'"{server.md5(key)}-3"')

        def do_GET(self) -> None:
            key = self._key()
            rng = self.headers.get("Range")
            server.log.append(("GET", key or self.path, rng))
            if key is None:
                self.send_error(404)
                return
            fault = server.next_fault(key)
            data = (server.root / key).read_bytes()
            if fault == "500":
                self.send_error(500)
                return
            if fault == "slow":
                time.sleep(server.slow_s)
            start, stop = 0, len(data)
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
            partial = m is not None and not server.ignore_range and fault != "no_range"
            if partial:
                assert m is not None
                start = int(m.group(1))
                stop = min(len(data), int(m.group(2)) + 1) if m.group(2) else len(data)
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            body = bytearray(data[start:stop])
            if fault == "corrupt" and body:
                body[len(body) // 2] ^= 0xFF
            length = len(body)
            if fault == "long_length":
                length += 100
            elif fault == "short_length":
                length = max(0, length - 10)
                body = body[:length]
            self.send_response(206 if partial else 200)
            self.send_header("Content-Length", str(length))
            if partial:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
            self._etag(key)
            self.send_header("Connection", "close")
            self.end_headers()
            if fault == "drop":
                body = body[: len(body) // 2]
            try:
                for i in range(0, len(body), BLOCK):
                    self.wfile.write(body[i:i + BLOCK])
                    if fault == "stall" and i == 0:
                        self.wfile.flush()
                        time.sleep(server.slow_s)
                    if server.throttle_s:
                        self.wfile.flush()
                        time.sleep(server.throttle_s)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

    return Handler
