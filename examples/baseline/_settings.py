"""The baseline demo's parameters, validated before anything is synthesized."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

# The port the service listens on inside the container (the image's default).
CONTAINER_PORT = 8080
MAX_ITEMS = 1000
# Docker's own rule for container names.
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# hashicorp/time's rule for durations.
_DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")


class SettingsError(ValueError):
    """A parameter is out of range; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class BaselineSettings:
    """What a presenter may change about the baseline demo."""

    port: int = 8080
    items: int = 3
    image: str = "demoapp:dev"
    container_name: str = "demoapp"
    # How long time_sleep waits after the container is healthy, before the http data source reads.
    settle: str = "2s"
    # None: local backend (state next to the config); otherwise Terraform's pg backend.
    pg_conn_str: str | None = None
    pg_schema: str = "demoapp"

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise SettingsError("port", f"must be 1..65535, got {self.port}")
        if not 0 <= self.items <= MAX_ITEMS:
            raise SettingsError("items", f"must be 0..{MAX_ITEMS}, got {self.items}")
        if not self.image.strip():
            raise SettingsError("image", "must not be empty")
        if not _CONTAINER_NAME.match(self.container_name):
            raise SettingsError("container_name", f"{self.container_name!r} is not a valid container name")
        if not _DURATION.match(self.settle):
            raise SettingsError("settle", f"{self.settle!r} is not a duration like 2s or 500ms")
        if self.pg_conn_str is not None and not self.pg_conn_str.startswith(("postgres://", "postgresql://")):
            raise SettingsError("pg_conn_str", "must be a postgres:// connection URL")

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def backend(self) -> str:
        return "local" if self.pg_conn_str is None else "pg"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> BaselineSettings:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in document.items() if key in known})
