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


class AccessLog:
    """Request lines, written by a background thread.

    The logging module costs more than a request, and a blocking write on a full pipe must not stall
    the event loop: the request path only appends to a bounded queue; past the bound, lines are dropped
    (and counted). Lines go out in writes of whole lines under PIPE_BUF, so workers sharing a pipe never
    interleave within a line.
    """

    _MAX_QUEUED = 100_000
    _FLUSH_INTERVAL_SECONDS = 0.05
    _PATH_LIMIT = 512

    def __init__(self, level: str, fd: int = 1) -> None:
        self.enabled = _LEVELS[level] <= logging.INFO
        self.dropped = 0
        self._fd = fd
        self._queue: deque[bytes] = deque()
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
        line = {
            "time": round(time.time(), 6),
            "level": "info",
            "logger": "demo_app.access",
            "method": method,
            "path": path[: self._PATH_LIMIT],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "client": client,
        }
        self._queue.append(orjson.dumps(line) + b"\n")

    def _drain(self) -> None:
        chunk: list[bytes] = []
        size = 0
        while self._queue:
            line = self._queue.popleft()
            if size + len(line) > select.PIPE_BUF and chunk:
                self._emit(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._emit(b"".join(chunk))

    def _emit(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
        except OSError:
            self.dropped += 1  # stdout closed: nothing sensible left to do with a log line

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
