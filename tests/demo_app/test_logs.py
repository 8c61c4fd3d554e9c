"""The access log: one JSON line per request, written whole, however odd the request's text."""

from __future__ import annotations

import json
import os
import select
import time
from pathlib import Path

import pytest

from demo_app._logs import AccessLog


class RecordingAccessLog(AccessLog):
    """Keeps every write the writer makes, to check how lines are cut into writes."""

    def __init__(self, level: str, fd: int) -> None:
        self.writes: list[bytes] = []
        super().__init__(level, fd)

    def _emit(self, data: bytes) -> None:
        self.writes.append(data)
        super()._emit(data)


@pytest.fixture
def log_file(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "access.log"
    return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)


def test_each_request_is_one_json_line(log_file: tuple[Path, int]) -> None:
    path, fd = log_file
    log = AccessLog("info", fd)
    log.write("POST", "/api/items", 201, 0.0000234, "127.0.0.1")
    log.write("GET", '/odd "path"\n\\ é \u2028', 404, 1.5, "::1")
    log.write("GET", "/" + "x" * 2000, 404, 0.001, "127.0.0.1")
    log.close()
    os.close(fd)
    # JSON Lines are cut at "\n" only (splitlines() would also cut at U+2028, legal inside a JSON string).
    lines = [json.loads(line) for line in path.read_text().split("\n")[:-1]]
    assert [(line["method"], line["path"][:12], line["status"]) for line in lines] == [
        ("POST", "/api/items", 201),
        ("GET", '/odd "path"\n', 404),
        ("GET", "/xxxxxxxxxxx", 404),
    ]
    assert lines[0]["duration_ms"] == 0.023 and lines[1]["duration_ms"] == 1500.0
    assert lines[1]["path"] == '/odd "path"\n\\ é \u2028' and lines[1]["client"] == "::1"
    assert len(lines[2]["path"]) == 512, "paths are cut to 512 characters"
    assert {line["level"] for line in lines} == {"info"}
    assert {line["logger"] for line in lines} == {"demo_app.access"}
    assert all(isinstance(line["time"], float) for line in lines)


def test_writes_hold_whole_lines_within_pipe_buf(log_file: tuple[Path, int]) -> None:
    path, fd = log_file
    log = RecordingAccessLog("warning", fd)  # no writer thread: close() drains once, in this thread
    for index in range(500):
        log.write("GET", f"/api/items/{index}", 200, 0.0001, "127.0.0.1")
    log.close()
    os.close(fd)
    assert len(log.writes) > 1
    assert all(len(data) <= select.PIPE_BUF and data.endswith(b"\n") for data in log.writes)
    assert [json.loads(line)["path"] for line in path.read_text().splitlines()] == [
        f"/api/items/{index}" for index in range(500)
    ]


def test_each_line_keeps_its_own_time_and_duration(log_file: tuple[Path, int]) -> None:
    path, fd = log_file
    log = AccessLog("warning", fd)  # no writer thread: close() formats the 300 lines as one batch
    before = time.time()
    for index in range(300):
        log.write("GET", "/health", 200, index / 1_000_000, "127.0.0.1")
    log.close()
    os.close(fd)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["duration_ms"] for line in lines] == [index / 1000 for index in range(300)]
    times = [line["time"] for line in lines]
    assert times == sorted(times) and before <= times[0] <= times[-1] <= time.time()
