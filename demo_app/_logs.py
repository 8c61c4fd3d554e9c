"""JSON log lines on stdout: one per request (access), plus the service's own events.

Request lines hold no headers, no query string and no body, so no token or cookie can leak into logs.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from collections import deque
from typing import Any

import orjson

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])


def granian_config() -> dict[str, Any]:
    """granian's own lines (start, workers, shutdown) in the same JSON shape; it logs no requests."""
    json_handler = {"()": f"{__name__}.JsonFormatter"}
    return {
        "formatters": {"json": json_handler},
        "handlers": {
            "json": {"formatter": "json", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
        },
        "loggers": {"_granian": {"handlers": ["json"], "level": "INFO", "propagate": False}},
    }


# One access line: the time and the duration, and the rest of the line in two pieces built once per
# (method, path, status, client) from their JSON strings (they are untrusted text).
_ACCESS_LINE = b'{"time":%b,"level":"info","logger":"demo_app.access",%b"duration_ms":%b,%b}\n'
_REQUEST_FIELDS = b'"method":%b,"path":%b,"status":%d,'
_CLIENT_FIELD = b'"client":%b'


class AccessLog:
    """Request lines, written by a background thread.

    The logging module costs more than a request, and a blocking write on a full pipe must not stall
    the event loop: the request path only appends a tuple to a bounded queue; past the bound, lines are
    dropped (and counted). The writer formats them: one bytes template per line, filled with the time
    and the duration (the numbers of a whole batch encoded by one orjson call) and the rest of the line
    as cached for its (method, path, status, client). Lines go out in writes of whole lines under
    PIPE_BUF, so workers sharing a pipe never interleave within a line.
    """

    _MAX_QUEUED = 100_000
    _MAX_ENCODED = 1024
    _FLUSH_INTERVAL_SECONDS = 0.05
    _PATH_LIMIT = 512

    def __init__(self, level: str, fd: int = 1) -> None:
        self.enabled = _LEVELS[level] <= logging.INFO
        self.dropped = 0
        self._fd = fd
        self._queue: deque[tuple[float, str, str, int, float, str]] = deque()
        self._encoded: dict[tuple[str, str, int, str], tuple[bytes, bytes]] = {}
        self._wake = threading.Event()
        self._closed = False
        self._writer: threading.Thread | None = None
        if self.enabled:
            self._writer = threading.Thread(target=self._drain_forever, name="access-log", daemon=True)
            self._writer.start()

    def write(self, method: str, path: str, status: int, seconds: float, client: str) -> None:
        if len(self._queue) >= self._MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append((time.time(), method, path, status, seconds, client))

    def _format(self, count: int) -> bytes:
        """The next ``count`` queued requests as JSON lines."""
        take = self._queue.popleft
        encoded = self._encoded
        cached: list[tuple[bytes, bytes]] = []
        numbers: list[float] = []
        for _ in range(count):
            try:
                moment, method, path, status, seconds, client = take()
            except IndexError:
                break  # taken by close() meanwhile, after a writer that did not stop in time
            fields = encoded.get((method, path, status, client))
            if fields is None:
                if len(encoded) >= self._MAX_ENCODED:
                    encoded.clear()
                fields = (
                    _REQUEST_FIELDS % (orjson.dumps(method), orjson.dumps(path[: self._PATH_LIMIT]), status),
                    _CLIENT_FIELD % orjson.dumps(client),
                )
                encoded[(method, path, status, client)] = fields
            cached.append(fields)
            # Milliseconds to the microsecond, rounded with arithmetic: round(x, 3) goes through dtoa.
            numbers += (moment, int(seconds * 1_000_000 + 0.5) / 1000)
        if not cached:
            return b""
        # Every number of the batch in one orjson call (shortest round-trip text), where %f would take
        # each through CPython's arbitrary-precision dtoa: a third of the cost of a line.
        texts = orjson.dumps(numbers)[1:-1].split(b",")
        return b"".join(
            [
                _ACCESS_LINE % (moment, fields[0], duration, fields[1])
                for moment, duration, fields in zip(texts[::2], texts[1::2], cached, strict=True)
            ]
        )

    def _drain(self) -> None:
        data = self._format(len(self._queue))
        start = 0
        while start < len(data):
            end = start + select.PIPE_BUF
            if end < len(data):
                # Cut after the last whole line that fits; a single longer line goes out alone.
                cut = data.rfind(b"\n", start, end)
                end = cut + 1 if cut >= start else data.index(b"\n", start) + 1
            self._emit(data[start:end])
            start = end

    def _emit(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
        except OSError:
            self.dropped += data.count(b"\n")  # stdout closed: nothing sensible left to do with a log line

    def _drain_forever(self) -> None:
        while not self._closed:
            self._wake.wait(self._FLUSH_INTERVAL_SECONDS)
            self._drain()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            self._writer.join(timeout=2)
        self._drain()
