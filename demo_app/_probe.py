"""Probing a running service's /health: the image's HEALTHCHECK, and every tool that starts a service."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable


class ServiceExited(RuntimeError):
    """The service process ended while we waited for it to become healthy."""


def health_status(health_url: str, timeout: float) -> int:
    """The HTTP status of `health_url`; OSError/ValueError when nothing answers."""
    try:
        with urllib.request.urlopen(health_url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def wait_healthy(
    base_url: str, *, timeout: float, is_alive: Callable[[], bool] = lambda: True, interval: float = 0.1
) -> None:
    """Poll `<base_url>/health` until it answers 200.

    Raises ServiceExited as soon as `is_alive()` is false (the process died while starting, so waiting
    longer is pointless) and TimeoutError once `timeout` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        if not is_alive():
            raise ServiceExited(f"the service at {base_url} exited while starting")
        try:
            if health_status(f"{base_url}/health", timeout=1.0) == 200:
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service at {base_url} was not healthy within {timeout:.0f} s")
        time.sleep(interval)
