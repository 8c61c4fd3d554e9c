"""``demo-app serve`` runs the service under granian; ``demo-app healthcheck`` probes /health.

Every flag falls back to its DEMOAPP_* environment variable (see docs/architecture.md, Configuration).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from ._config import LOG_LEVELS, ConfigError, Settings
from ._logs import configure as configure_logging
from ._logs import granian_config as granian_log_config
from ._probe import health_status
from .store import ENGINES

log = logging.getLogger("demo_app")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demo-app", description="The demoapp web service.")
    parser.add_argument("--version", action="version", version=f"demo-app {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (flags override DEMOAPP_* variables)")
    serve.add_argument("--host", help="address to bind (DEMOAPP_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (DEMOAPP_PORT, then PORT, default 8080)")
    serve.add_argument("--store", choices=ENGINES, help="store engine (DEMOAPP_STORE, default lsm)")
    serve.add_argument("--data-dir", type=Path, help="persist the lsm store here (DEMOAPP_DATA_DIR)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, help="DEMOAPP_LOG_LEVEL, default info")
    serve.add_argument("--workers", type=int, help="server processes (DEMOAPP_WORKERS); only 1 is supported")
    serve.add_argument("--token", help="require 'Authorization: Bearer TOKEN' for writes (DEMOAPP_TOKEN)")
    serve.add_argument(
        "--token-reads", action="store_true", default=None, help="require the token for reads too"
    )

    health = commands.add_parser("healthcheck", help="exit 0 when /health answers 200")
    health.add_argument("--url", help="default http://127.0.0.1:<DEMOAPP_PORT or 8080>/health")
    health.add_argument("--timeout", type=float, default=3.0, help="seconds")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: value
        for name, value in {
            "host": args.host,
            "port": args.port,
            "store": args.store,
            "data_dir": args.data_dir,
            "log_level": args.log_level,
            "workers": args.workers,
            "token": args.token,
            "token_reads": args.token_reads,
        }.items()
        if value is not None
    }
    return dataclasses.replace(Settings.from_env(), **overrides)


def _check_port_free(host: str, port: int) -> None:
    """granian listens with SO_REUSEPORT, so a second server on a busy port would silently share it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: connections of an earlier server in TIME_WAIT do not count, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def serve(settings: Settings) -> int:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops

    _check_port_free(settings.host, settings.port)
    configure_logging(settings.log_level)
    # granian builds the app in its worker process from the environment.
    os.environ.update(settings.to_env())
    if settings.data_dir is not None:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OSError(f"data-dir: cannot create {settings.data_dir}: {error.strerror}") from None
        if not os.access(settings.data_dir, os.W_OK | os.X_OK):
            raise OSError(f"data-dir: {settings.data_dir} is not writable")
    log.info(
        "demo-app %s serving http://%s:%d with store=%s workers=%d",
        __version__,
        settings.host,
        settings.port,
        settings.store,
        settings.workers,
    )
    server = Granian(
        "demo_app._rsgi:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers,
        http=HTTPModes.http1,
        websockets=False,
        loop=Loops.uvloop,
        backlog=2048,
        log_level=settings.log_level,  # type: ignore[arg-type]
        log_dictconfig=granian_log_config(),
    )
    server.serve()
    return 0


def healthcheck(url: str | None, timeout: float) -> int:
    if url is None:
        port = os.environ.get("DEMOAPP_PORT") or os.environ.get("PORT") or "8080"
        url = f"http://127.0.0.1:{port}/health"
    try:
        status = health_status(url, timeout)
    except (OSError, ValueError) as error:
        print(f"demo-app healthcheck: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"demo-app healthcheck: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "healthcheck":
            return healthcheck(args.url, args.timeout)
        return serve(_settings(args))
    except ConfigError as error:
        parser.exit(2, f"demo-app: error: {error}\n")
    except OSError as error:
        parser.exit(1, f"demo-app: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
