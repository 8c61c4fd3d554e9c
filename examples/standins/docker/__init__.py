"""Offline stand-in for kreuzwerker/docker 3.6.2: `docker_image` (local images) and `docker_container`."""

from examples.standins.docker._provider import ADDRESS, VERSION, DockerProvider

__all__ = ["ADDRESS", "VERSION", "DockerProvider"]
