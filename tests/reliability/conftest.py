"""Fixtures of the reliability suites: live service processes and the tally that `make reliability` reports.

Every suite records what it tried (cases), what it broke on purpose (faults) and what went missing
(lost) through the `tally` fixture. `bench.reliability` sets `DEMOAPP_RELIABILITY_RECORD` to a JSON-lines
file and sums the records per suite; without it the records only reach the test's assertions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from provider.acceptance import DemoService

RECORD_ENV = "DEMOAPP_RELIABILITY_RECORD"


@dataclass
class Tally:
    """What one test tried, injected and lost; appended to the record file when the test ends."""

    suite: str
    test: str
    cases: int = 0
    faults: int = 0
    lost: int = 0
    notes: dict[str, object] = field(default_factory=dict)


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    suite = Path(str(request.node.fspath)).stem.removeprefix("test_")
    record = Tally(suite=suite, test=request.node.name)
    yield record
    path = os.environ.get(RECORD_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record.__dict__, default=str) + "\n")


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., DemoService]]:
    """Start `demo-app serve` processes on 127.0.0.1 with extra flags; all are killed at the end."""
    started: list[DemoService] = []

    def start(*flags: str, port: int | None = None) -> DemoService:
        service = DemoService(log_dir=tmp_path, extra_args=flags)
        if port is not None:
            service.port = port
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()
