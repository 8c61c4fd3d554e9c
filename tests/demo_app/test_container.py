"""The service image, run the way the demo runs it: published on 127.0.0.1 only, read-only root filesystem,
non-root, healthy through its own HEALTHCHECK. All traffic goes to 127.0.0.1, never to the container's IP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import docker
import httpx
import pytest
from testcontainers.core.container import DockerContainer

pytestmark = pytest.mark.docker

CONTAINER_PORT = 8080
CONCURRENT_CREATES = 200
HEALTHY_WITHIN_SECONDS = 60


def wait_until_healthy(container: DockerContainer) -> None:
    wrapped = container.get_wrapped_container()
    deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        wrapped.reload()
        state = wrapped.attrs["State"]
        if state["Status"] != "running":
            pytest.fail(f"container stopped ({state}):\n{wrapped.logs().decode(errors='replace')}")
        if state["Health"]["Status"] == "healthy":
            return
        time.sleep(0.5)
    logs = wrapped.logs().decode(errors="replace")
    pytest.fail(f"not healthy within {HEALTHY_WITHIN_SECONDS} s: {wrapped.attrs['State']['Health']}\n{logs}")


@pytest.fixture(scope="module")
def host_port(free_port: Callable[[], int]) -> int:
    return free_port()


@pytest.fixture(scope="module")
def service(service_image: str, host_port: int) -> Iterator[DockerContainer]:
    container = DockerContainer(
        service_image, read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"]
    ).with_tmpfs_mount("/tmp")
    # testcontainers' with_bind_ports() cannot name the host address; docker-py takes (ip, port) here.
    container.ports[f"{CONTAINER_PORT}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
    container.start()
    try:
        wait_until_healthy(container)
        yield container
    finally:
        container.stop()


@pytest.fixture(scope="module")
def base_url(service: DockerContainer, host_port: int) -> str:
    return f"http://127.0.0.1:{host_port}"


def test_image_runs_as_non_root_with_its_own_healthcheck(
    docker_client: docker.DockerClient, service_image: str
) -> None:
    config = docker_client.images.get(service_image).attrs["Config"]
    assert config["User"] not in ("", "root", "0", "0:0")
    assert config["Healthcheck"]["Test"] == ["CMD", "demo-app", "healthcheck"]
    assert f"{CONTAINER_PORT}/tcp" in config["ExposedPorts"]


def test_port_is_published_on_loopback_only(service: DockerContainer) -> None:
    wrapped = service.get_wrapped_container()
    wrapped.reload()
    bindings = wrapped.attrs["NetworkSettings"]["Ports"][f"{CONTAINER_PORT}/tcp"]
    assert {binding["HostIp"] for binding in bindings} == {"127.0.0.1"}


def test_process_is_not_root_and_root_fs_is_read_only(service: DockerContainer) -> None:
    wrapped = service.get_wrapped_container()
    uid = wrapped.exec_run(["id", "-u"])
    assert uid.exit_code == 0
    assert uid.output.decode().strip() != "0"
    # Even root inside the container cannot write outside the tmpfs.
    write_root_fs = wrapped.exec_run(["touch", "/opt/demoapp/probe"], user="root")
    assert write_root_fs.exit_code != 0
    assert b"Read-only file system" in write_root_fs.output
    write_tmpfs = wrapped.exec_run(["touch", "/tmp/probe"])
    assert write_tmpfs.exit_code == 0


def test_health_answers_ok(base_url: str) -> None:
    response = httpx.get(f"{base_url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_concurrent_creates_get_unique_ids_and_are_all_listed(base_url: str) -> None:
    async def create_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CONCURRENT_CREATES)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post("/api/items", json={"name": f"item {n}", "description": None})
                    for n in range(CONCURRENT_CREATES)
                )
            )

    responses = asyncio.run(create_all())
    assert [response.status_code for response in responses] == [201] * CONCURRENT_CREATES
    created = {response.json()["id"]: response.json()["name"] for response in responses}
    assert len(created) == CONCURRENT_CREATES

    listed = httpx.get(f"{base_url}/api/items").json()
    listed_by_id = {item["id"]: item["name"] for item in listed}
    assert created.items() <= listed_by_id.items()
    ids = [item["id"] for item in listed]
    assert ids == sorted(ids)


def test_page_is_served(base_url: str) -> None:
    response = httpx.get(f"{base_url}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


def test_system_reports_the_container(service: DockerContainer, base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/system", headers={"User-Agent": "test-container"})
    assert response.status_code == 200
    system = response.json()
    wrapped = service.get_wrapped_container()
    assert system["hostname"] == wrapped.attrs["Config"]["Hostname"]
    assert isinstance(system["ips"], list)
    assert system["ips"]
    assert system["store"]["engine"] == "lsm"
    assert system["user_agent"] == "test-container"


def test_sigterm_stops_the_service_gracefully(service_image: str, free_port: Callable[[], int]) -> None:
    container = DockerContainer(service_image, read_only=True).with_tmpfs_mount("/tmp")
    container.ports[f"{CONTAINER_PORT}/tcp"] = ("127.0.0.1", free_port())  # type: ignore[assignment]
    container.start()
    try:
        wait_until_healthy(container)
        wrapped = container.get_wrapped_container()
        # docker stop sends SIGTERM, then SIGKILL (exit code 137) if the service has not exited.
        wrapped.stop(timeout=10)
        wrapped.reload()
        assert wrapped.attrs["State"]["ExitCode"] == 0, wrapped.logs().decode(errors="replace")
    finally:
        container.stop()
