"""Fixtures shared by every test package: the work folder, free ports, Docker and the service image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import DockerException
from playwright.sync_api import Browser

from provider import acceptance

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = bool(os.environ.get("CI"))

# testcontainers' Ryuk reaper comes from a registry image, which cannot be pulled here; tests clean up
# their own containers. Set before any test module imports testcontainers (it reads this at import).
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
# Each test's provider install gets its own warm-start zygote (provider/_zygote.py): let them go soon.
os.environ.setdefault("DEMOAPP_PROVIDER_ZYGOTE_IDLE", "30")

# In CI, tests that need Docker or terraform must run: a skip of one of them counts as a failure.
MUST_RUN_IN_CI = {"docker", "terraform", "e2e"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    needs = MUST_RUN_IN_CI.intersection(marker.name for marker in item.iter_markers())
    if needs:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where {', '.join(sorted(needs))} tests must run: {reason}"


@pytest.fixture(scope="session")
def work_dir() -> Path:
    """The project's work folder (`DEMOAPP_WORK`, default `.work/`), created if missing."""
    path = Path(os.environ.get("DEMOAPP_WORK", REPO_ROOT / ".work")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Call it for a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).

    A factory, so fixtures of any scope can take ports: `port = free_port()`.
    """
    return acceptance.free_port


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the local Docker engine.

    Without an engine the test is skipped on a developer's machine, but fails in CI, where the Docker
    tests must run.
    """
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        message = f"no Docker engine answers ({error}); start one with `make docker-engine`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture(scope="session")
def service_image(docker_client: docker.DockerClient) -> str:
    """The demo service image (`DEMOAPP_IMAGE`, default demoapp:dev), built if missing or stale.

    The build scripts skip all work when the image already matches the sources, as after `make image`.
    """
    image = os.environ.get("DEMOAPP_IMAGE", "demoapp:dev")
    env = {**os.environ, "DEMOAPP_PYTHON": sys.executable}
    for script in (["scripts/ensure-base-image.sh"], ["scripts/build-image.sh", image]):
        result = subprocess.run(script, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{script[0]} failed:\n{result.stderr[-3000:]}")
    return image


# Debian's chromium, run by Playwright: browser downloads are impossible here, and these flags keep it
# from reaching for the network at start.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Iterator[Browser]:
    """A headless Debian Chromium driven by Playwright.

    Without the binary the test is skipped on a developer's machine, but fails in CI, where it is installed.
    """
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is required (apt-get install chromium, or make system-packages)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
