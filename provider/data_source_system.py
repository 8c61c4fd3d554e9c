"""`data "demoapp_system"`: the service's `/api/system` (host, runtime, store, request echo)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tf.iface import Config, DataSource, ReadDataContext, State
from tf.schema import Attribute, Schema
from tf.types import List, Map, Number, String, TfType

from provider._diagnostics import report
from provider._errors import ClientError

if TYPE_CHECKING:
    from provider._provider import DemoappProvider


def _computed(name: str, kind: TfType, description: str) -> Attribute:
    return Attribute(name, kind, description=description, computed=True)


SCHEMA = Schema(
    version=1,
    description="What the demo service reports about itself and the request (`GET /api/system`).",
    attributes=[
        _computed("hostname", String(), "Host name of the machine or container."),
        _computed("ips", List(String()), "The host's IP addresses (may be empty)."),
        _computed("platform", String(), "Operating system and architecture."),
        _computed("python", String(), "Python version running the service."),
        _computed("pid", Number(), "Process id of the service."),
        _computed("uptime_seconds", Number(), "Seconds since the service started."),
        _computed("version", String(), "The service's version."),
        _computed(
            "store",
            Map(String()),
            "The store engine and its settings (`engine` and engine-specific keys; non-string "
            "values as JSON text).",
        ),
        _computed("client_ip", String(), "The address the service saw this request from."),
        _computed("user_agent", String(), "The User-Agent the service saw."),
        _computed(
            "headers", Map(String()), "Request headers the service saw (never Authorization or Cookie)."
        ),
        _computed("environment", Map(String()), "The service's allowlisted environment variables."),
    ],
)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _string_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(key): _text(item) or "" for key, item in value.items()}


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class SystemModel:
    hostname: str | None
    ips: list[str]
    platform: str | None
    python: str | None
    pid: int | float | None
    uptime_seconds: int | float | None
    version: str | None
    store: dict[str, str] | None
    client_ip: str | None
    user_agent: str | None
    headers: dict[str, str] | None
    environment: dict[str, str] | None

    @classmethod
    def from_api(cls, system: dict[str, Any]) -> SystemModel:
        ips = system.get("ips")
        return cls(
            hostname=_text(system.get("hostname")),
            ips=[str(ip) for ip in ips] if isinstance(ips, list) else [],
            platform=_text(system.get("platform")),
            python=_text(system.get("python")),
            pid=_number(system.get("pid")),
            uptime_seconds=_number(system.get("uptime_seconds")),
            version=_text(system.get("version")),
            store=_string_map(system.get("store")),
            client_ip=_text(system.get("client_ip")),
            user_agent=_text(system.get("user_agent")),
            headers=_string_map(system.get("headers")),
            environment=_string_map(system.get("environment")),
        )


class SystemDataSource(DataSource):
    def __init__(self, provider: DemoappProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "system"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            return asdict(SystemModel.from_api(client.get_system()))
        except ClientError as exc:
            report(ctx.diagnostics, "read the service's system info", exc)
            return None
