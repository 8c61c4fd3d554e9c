"""The Docker side of the demo: the engine, the image, the demo container (crash, status)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from examples.harness._errors import HarnessError

ENGINE_HINT = "start one with `make docker-engine` (scripts/ensure-docker.sh)"


def client() -> docker.DockerClient:
    try:
        engine = docker.from_env(timeout=30)
        engine.ping()
    except DockerException as exc:
        raise HarnessError(f"the Docker engine does not answer ({exc})", ENGINE_HINT) from exc
    return engine


def image_exists(engine: docker.DockerClient, image: str) -> bool:
    try:
        engine.images.get(image)
    except ImageNotFound:
        return False
    return True


def ensure_image(engine: docker.DockerClient, image: str, saved: Path) -> str:
    """Make sure `image` exists locally; load it from `saved` (written by `demoapp mirror`) if needed.
    Returns how it was found, for the presenter."""
    if image_exists(engine, image):
        return "present"
    if saved.is_file():
        with saved.open("rb") as tarball:
            engine.images.load(tarball)
        if image_exists(engine, image):
            return f"loaded from {saved}"
    raise HarnessError(f"the image {image} is not built", "build it with `make image` (or run `make demo`)")


def find_container(engine: docker.DockerClient, name: str) -> Any | None:
    try:
        return engine.containers.get(name)
    except NotFound:
        return None


def runs_image(engine: docker.DockerClient, container: Any, image: str) -> bool:
    """Whether `container` was created from `image` (by id: the demo creates it from the image's id)."""
    try:
        return bool(container.image.id == engine.images.get(image).id)
    except (ImageNotFound, NotFound):
        return False


def containers_named(engine: docker.DockerClient, name: str) -> list[Any]:
    """Every container, running or not, whose name is exactly `name` (Docker's filter matches substrings)."""
    found = engine.containers.list(all=True, filters={"name": name})
    return [container for container in found if container.name == name]


def health(container: Any) -> str:
    """`running (healthy)`, `exited`, ... as Docker reports it."""
    container.reload()
    state = container.attrs.get("State") or {}
    status = str(state.get("Status", "unknown"))
    health_status = (state.get("Health") or {}).get("Status")
    return f"{status} ({health_status})" if health_status else status


def crash(engine: docker.DockerClient, name: str, *, restart: bool) -> str:
    """Kill the demo container (it stays stopped), or restart it (same container, memory wiped)."""
    container = find_container(engine, name)
    if container is None or container.status != "running":
        raise HarnessError(f"no running container named {name!r} to crash", "start the demo with `make demo`")
    if restart:
        container.restart(timeout=0)
        return f"restarted container {name} ({container.short_id}): its in-memory data is gone"
    container.kill()
    return f"killed container {name} ({container.short_id}): the service is down"
