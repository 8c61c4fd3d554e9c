"""The demo as a presenter runs it: the real Makefile targets, Docker, terraform and the providers.

Each module gets its own work folder, port and container name, so the e2e tests never touch the
developer's `.work/` or a demo on port 8080. The offline stand-ins are used explicitly: the tests send
traffic to 127.0.0.1 only, so they never probe the public registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import docker
import pytest
from demo_run import DemoRun


@pytest.fixture(scope="module")
def demo_factory(
    tmp_path_factory: pytest.TempPathFactory,
    free_port: Callable[[], int],
    service_image: str,
    docker_client: docker.DockerClient,
) -> Iterator[Callable[[], DemoRun]]:
    """Make DemoRuns; whatever they leave behind is removed at the end (destroy, then the container)."""
    runs: list[DemoRun] = []

    def make_run() -> DemoRun:
        port = free_port()
        run = DemoRun(tmp_path_factory.mktemp("work"), port, f"demoapp-e2e-{port}", service_image)
        runs.append(run)
        return run

    yield make_run
    for run in runs:
        if run.has_resources():
            run.cli("down", check=False)
        for container in docker_client.containers.list(all=True, filters={"name": run.container}):
            container.remove(force=True)
