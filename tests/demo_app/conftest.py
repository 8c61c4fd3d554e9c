"""Fixtures of the service tests: the app in-process (httpx over ASGI) and real `demo-app serve` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from demo_app import App, ASGIApplication, Settings
from demo_app.store import Engine, open_store

DEMO_APP = str(Path(sys.executable).with_name("demo-app"))


class StepClock:
    """A deterministic clock: every reading is one second after the previous one."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> str:
        self.now += timedelta(seconds=1)
        return self.now.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class InProcess:
    app: App
    client: httpx.AsyncClient


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(engine: Engine | None = None, **settings: object) -> App:
        store = str(settings.pop("store", "memory"))
        app = App(
            Settings(store=store, log_level="warning", **settings),  # type: ignore[arg-type]
            engine=engine or open_store(store),
            clock=StepClock(),
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
async def api(make_app: Callable[..., App]) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh in-process service on the memory engine."""
    transport = httpx.ASGITransport(app=ASGIApplication(make_app()), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


@pytest.fixture
def client_for() -> Callable[[App], httpx.AsyncClient]:
    def build(app: App) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=ASGIApplication(app), client=("127.0.0.1", 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://demo")

    return build


@dataclass
class ServiceProcess:
    """A real `demo-app serve` (granian) on 127.0.0.1, its output in a log file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                # No --host: the default must be 127.0.0.1.
                [DEMO_APP, "serve", "--port", str(self.port), *self.args],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"demo-app exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"demo-app not healthy within {timeout} s:\n{self.log.read_text()}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.exit_code = self.process.wait(timeout=timeout)
        return self.exit_code

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def service(tmp_path: Path, free_port: Callable[[], int]) -> Iterator[Callable[..., ServiceProcess]]:
    """Start `demo-app serve` with extra flags and environment; every process is killed at the end."""
    started: list[ServiceProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, port: int | None = None) -> ServiceProcess:
        clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("DEMOAPP_", "PROMETHEUS_"))}
        process = ServiceProcess(
            args=list(args),
            env={**clean_env, **(env or {})},
            log=tmp_path / f"service-{len(started)}.log",
            port=port or free_port(),
        )
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
