"""demoapp's web service: the Go demo-app's API, fixed and extended, on a pluggable key-value store."""

from __future__ import annotations

__version__ = "0.1.0"

from ._app import App
from ._asgi import ASGIApplication
from ._catalog import canonical_hash
from ._config import ConfigError, Settings
from ._probe import ServiceExited, wait_healthy
from ._rsgi import RSGIApplication

__all__ = [
    "ASGIApplication",
    "App",
    "ConfigError",
    "RSGIApplication",
    "ServiceExited",
    "Settings",
    "__version__",
    "canonical_hash",
    "wait_healthy",
]
