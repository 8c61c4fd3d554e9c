"""The kreuzwerker/docker stand-in's provider block (`host`) and its Docker SDK client."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tf.iface import Config, Resource
from tf.schema import Attribute, Schema
from tf.types import String, Unknown
from tf.utils import Diagnostics

from examples.standins._offline import StandinProvider

if TYPE_CHECKING:
    import docker

ADDRESS = "registry.terraform.io/kreuzwerker/docker"
VERSION = "3.6.2"
HOST_ENV = "DOCKER_HOST"
DEFAULT_HOST = "unix:///var/run/docker.sock"
# Image pulls are not part of the stand-in, so no call takes long; 5 minutes bounds a hung engine.
ENGINE_TIMEOUT_SECONDS = 300


def _engine_errors() -> tuple[type[Exception], ...]:
    import docker.errors

    # The SDK raises its own errors for API answers, and requests' (OSError) ones for connection failures.
    return (docker.errors.DockerException, OSError)


def report_engine_error(
    diags: Diagnostics, action: str, exc: Exception, path: list[str] | None = None
) -> None:
    diags.add_error(f"Docker engine error: cannot {action}", f"{type(exc).__name__}: {exc}", path=path)


class DockerProvider(StandinProvider):
    ADDRESS = ADDRESS
    VERSION = VERSION
    TYPE_PREFIX = "docker_"
    SCHEMA = Schema(
        version=0,
        description="Offline stand-in for kreuzwerker/docker: local images and containers on one engine.",
        attributes=[
            Attribute(
                "host",
                String(),
                description=f"The Docker daemon address, e.g. `unix:///var/run/docker.sock` or "
                f"`tcp://127.0.0.1:2375`. Falls back to `{HOST_ENV}`, then to `{DEFAULT_HOST}`.",
                optional=True,
            ),
        ],
    )

    def __init__(self, environ: Mapping[str, str] | None = None):
        self._environ = os.environ if environ is None else environ
        self._host: str | None = None
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        super().configure_provider(diags, config)
        host = config.get("host")
        if host is Unknown:
            return
        self._host = host or self._environ.get(HOST_ENV) or DEFAULT_HOST

    def client(self, diags: Diagnostics) -> docker.DockerClient | None:
        """The engine's client, connected on first use; None with an error diagnostic when unreachable."""
        import docker

        with self._client_lock:
            if self._client is not None:
                return self._client
            if self._host is None:
                diags.add_error(
                    "Docker provider is not configured",
                    "The provider's host depends on a value not known yet; apply what it depends on first.",
                )
                return None
            try:
                self._client = docker.DockerClient(base_url=self._host, timeout=ENGINE_TIMEOUT_SECONDS)
                self._client.ping()
            except _engine_errors() as exc:
                self._client = None
                diags.add_error(
                    f"Cannot connect to the Docker engine at {self._host}",
                    f"{exc}. Is the engine running (`make docker-engine`)? Is `host` or {HOST_ENV} right?",
                )
            return self._client

    def get_resources(self) -> list[type[Resource]]:
        from examples.standins.docker.resource_container import ContainerResource
        from examples.standins.docker.resource_image import ImageResource

        return [ImageResource, ContainerResource]
