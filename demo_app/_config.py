"""Service settings: flags on the command line, DEMOAPP_* environment variables for everything.

The CLI writes the settings back to the environment so every server worker process reads the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .store import ENGINES

LOG_LEVELS = ("debug", "info", "warning", "error")
# Bodies larger than these are refused with 413 before they are read whole.
ITEM_BODY_LIMIT = 64 * 1024
DISPLAY_BODY_LIMIT = 1024 * 1024
BODY_READ_TIMEOUT_SECONDS = 10.0


class ConfigError(ValueError):
    """A setting with a bad value; the CLI prints it and exits non-zero."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    store: str = "lsm"
    data_dir: Path | None = None
    log_level: str = "info"
    workers: int = 1
    token: str | None = field(default=None, repr=False)
    token_reads: bool = False
    env_allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.store not in ENGINES:
            raise ConfigError(f"store: unknown engine {self.store!r} (choose from {', '.join(ENGINES)})")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port: {self.port} is not between 1 and 65535")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log-level: {self.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        if self.workers < 1:
            raise ConfigError("workers: must be at least 1")
        if self.workers > 1:
            raise ConfigError(
                f"workers: every store engine lives inside one process and cannot be shared by "
                f"{self.workers} workers (lsm-db's multi-process mode loses updates: see "
                "docs/architecture.md); use 1"
            )
        if self.token is not None and not self.token:
            raise ConfigError("token: must not be empty")
        if self.token_reads and not self.token:
            raise ConfigError("token-reads: needs a token")

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def integer(name: str, fallback: str | None, default: int) -> int:
            raw = env.get(name) or (env.get(fallback) if fallback else None)
            if raw is None or raw == "":
                return default
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(f"{name}: {raw!r} is not an integer") from None

        def path(name: str) -> Path | None:
            raw = env.get(name)
            return Path(raw) if raw else None

        return cls(
            host=env.get("DEMOAPP_HOST") or "127.0.0.1",
            port=integer("DEMOAPP_PORT", "PORT", 8080),
            store=env.get("DEMOAPP_STORE") or "lsm",
            data_dir=path("DEMOAPP_DATA_DIR"),
            log_level=(env.get("DEMOAPP_LOG_LEVEL") or "info").lower(),
            workers=integer("DEMOAPP_WORKERS", None, 1),
            token=env.get("DEMOAPP_TOKEN") or None,
            token_reads=(env.get("DEMOAPP_TOKEN_READS") or "").lower() in ("1", "true", "yes"),
            env_allow=tuple(
                name.strip() for name in (env.get("DEMOAPP_ENV_ALLOW") or "").split(",") if name.strip()
            ),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` in a worker give back these settings."""
        env = {
            "DEMOAPP_HOST": self.host,
            "DEMOAPP_PORT": str(self.port),
            "DEMOAPP_STORE": self.store,
            "DEMOAPP_LOG_LEVEL": self.log_level,
            "DEMOAPP_WORKERS": str(self.workers),
            "DEMOAPP_TOKEN_READS": "1" if self.token_reads else "",
            "DEMOAPP_ENV_ALLOW": ",".join(self.env_allow),
            "DEMOAPP_DATA_DIR": str(self.data_dir) if self.data_dir else "",
        }
        if self.token:
            env["DEMOAPP_TOKEN"] = self.token
        return env
