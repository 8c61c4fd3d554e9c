"""A fresh demo service per stress run: the container image published on 127.0.0.1, or a local process.

Either way the service is reached on 127.0.0.1 only, starts empty with the asked store engine, and is
gone (container removed, process killed) when the block ends.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from demo_app import ServiceExited, wait_healthy
from examples.harness._errors import HarnessError
from provider.acceptance import free_port

CONTAINER_PORT = "8080/tcp"
HEALTHY_WITHIN_SECONDS = 60.0
STRESS_LABEL = "demoapp.stress"


def _wait_healthy(url: str, is_alive: Callable[[], bool], hint: str | None = None) -> None:
    try:
        wait_healthy(url, timeout=HEALTHY_WITHIN_SECONDS, is_alive=is_alive)
    except (ServiceExited, TimeoutError) as exc:
        raise HarnessError(str(exc), hint) from exc


def _demo_app_command() -> str:
    beside_python = Path(sys.executable).with_name("demo-app")
    found = str(beside_python) if beside_python.exists() else shutil.which("demo-app")
    if found is None:
        raise HarnessError("the demo-app command is not installed", "run `make venv`")
    return found


@contextmanager
def local_service(engine: str, log_path: Path) -> Iterator[str]:
    """`demo-app serve --store <engine>` on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    command = [_demo_app_command(), "serve", "--store", engine, "--host", "127.0.0.1", "--port", str(port)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, lambda: process.poll() is None, f"see the service log {log_path}")
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def container_service(engine: str, image: str) -> Iterator[str]:
    """The service image with `DEMOAPP_STORE=<engine>`, published on a free 127.0.0.1 port, hardened as
    the demo runs it; yields its base URL. The container is removed afterwards."""
    from examples.harness._docker import client, image_exists

    engine_client = client()
    if not image_exists(engine_client, image):
        raise HarnessError(f"the image {image} is not built", "build it with `make image`, or use --local")
    container = engine_client.containers.run(
        image,
        detach=True,
        environment={"DEMOAPP_STORE": engine},
        ports={CONTAINER_PORT: ("127.0.0.1", None)},
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,size=256m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        labels={STRESS_LABEL: engine},
    )
    try:
        container.reload()
        binding = container.attrs["NetworkSettings"]["Ports"][CONTAINER_PORT][0]
        url = f"http://127.0.0.1:{binding['HostPort']}"

        def running() -> bool:
            container.reload()
            return bool(container.status == "running")

        _wait_healthy(url, running)
        yield url
    finally:
        container.remove(force=True)
        engine_client.close()
