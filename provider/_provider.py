"""The provider block: endpoint, token, timeout and retries, and the resource and data source list."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tf.iface import Config, DataSource, Provider, Resource
from tf.schema import Attribute, Schema
from tf.types import Number, String, Unknown
from tf.utils import Diagnostics

from provider._mirror import ADDRESS

if TYPE_CHECKING:
    from provider._client import DemoappClient

ENDPOINT_ENV = "DEMOAPP_ENDPOINT"
TOKEN_ENV = "DEMOAPP_TOKEN"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 600
DEFAULT_RETRIES = 5
MAX_RETRIES = 20

SCHEMA = Schema(
    version=1,
    description="Manages items and the display of a demoapp service through its HTTP API.",
    attributes=[
        Attribute(
            "endpoint",
            String(),
            description=f"Base URL of the demoapp service, e.g. `http://127.0.0.1:8080`. "
            f"Falls back to the `{ENDPOINT_ENV}` environment variable; one of the two is required.",
            optional=True,
        ),
        Attribute(
            "token",
            String(),
            description=f"Bearer token sent with every request when set (the service's `--token`). "
            f"Falls back to `{TOKEN_ENV}`.",
            optional=True,
            sensitive=True,
        ),
        Attribute(
            "timeout",
            Number(),
            description=f"Seconds to wait for each HTTP request, 0 < timeout <= {MAX_TIMEOUT}. "
            f"Default {DEFAULT_TIMEOUT:g}.",
            optional=True,
        ),
        Attribute(
            "retries",
            Number(),
            description="How many times a request is retried, with exponential backoff capped at 4 s, when "
            "the connection is refused (the service is still starting) or the service answers 5xx. "
            f"0 to {MAX_RETRIES}; default {DEFAULT_RETRIES}.",
            optional=True,
        ),
    ],
)


def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` cannot be the service's base URL, or None when it can."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "the URL has no host"
    if port == 0:
        return "port 0 is not a service port"
    if parts.query or parts.fragment:
        return "the URL must not have a query or fragment"
    return None


def _validate_number(diags: Diagnostics, config: Config, name: str, low: float, high: float, integer: bool):
    value = config.get(name)
    if value is None or value is Unknown:
        return
    is_number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not is_number or not low <= value <= high or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        diags.add_error(
            f"Invalid {name}",
            f"{name} must be {kind} from {low:g} to {high:g}, got {value!r}.",
            path=[name],
        )


def validate_settings(diags: Diagnostics, config: Config) -> None:
    endpoint = config.get("endpoint")
    if isinstance(endpoint, str):
        problem = endpoint_problem(endpoint)
        if problem:
            diags.add_error("Invalid demoapp endpoint", f"{endpoint!r}: {problem}.", path=["endpoint"])
    _validate_number(diags, config, "timeout", 0.001, MAX_TIMEOUT, integer=False)
    _validate_number(diags, config, "retries", 0, MAX_RETRIES, integer=True)


class DemoappProvider(Provider):
    def __init__(self, environ: Mapping[str, str] | None = None, max_connections: int = 64):
        self._environ = os.environ if environ is None else environ
        # As many HTTP connections as gRPC workers, so parallel operations never queue for a connection.
        self._max_connections = max_connections
        self._client: DemoappClient | None = None

    def get_model_prefix(self) -> str:
        return "demoapp_"

    def full_name(self) -> str:
        return ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return SCHEMA

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        validate_settings(diags, config)

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        validate_settings(diags, config)
        if diags.has_errors():
            return
        endpoint: Any = config.get("endpoint")
        if endpoint is Unknown:
            # Known only after apply (e.g. a container's published port): plan creates need no API call,
            # anything else reports the missing client when it asks for it.
            return
        if endpoint is None:
            endpoint = self._environ.get(ENDPOINT_ENV)
            if not endpoint:
                diags.add_error(
                    "Missing demoapp endpoint",
                    f"Set endpoint in the provider block or the {ENDPOINT_ENV} environment variable.",
                    path=["endpoint"],
                )
                return
            problem = endpoint_problem(endpoint)
            if problem:
                diags.add_error(
                    "Invalid demoapp endpoint",
                    f"{ENDPOINT_ENV}={endpoint!r}: {problem}.",
                    path=["endpoint"],
                )
                return
        token = config.get("token")
        token = self._environ.get(TOKEN_ENV) if token is None else token
        timeout = config.get("timeout")
        retries = config.get("retries")
        if token is Unknown or timeout is Unknown or retries is Unknown:
            return

        from provider._client import DemoappClient

        self._client = DemoappClient(
            endpoint.rstrip("/"),
            token=token or None,
            timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT,
            retries=int(retries) if retries is not None else DEFAULT_RETRIES,
            max_connections=self._max_connections,
        )

    def client(self, diags: Diagnostics) -> DemoappClient | None:
        """The configured API client; None (with an error diagnostic) when the provider has no endpoint."""
        if self._client is None:
            diags.add_error(
                "demoapp provider is not configured",
                "The provider's endpoint, token, timeout or retries is not known yet (it depends on a "
                "resource that has not been created). Apply that resource first, e.g. with -target.",
            )
        return self._client

    def get_data_sources(self) -> list[type[DataSource]]:
        from provider.data_source_display import DisplayDataSource
        from provider.data_source_items import ItemsDataSource
        from provider.data_source_system import SystemDataSource

        return [SystemDataSource, ItemsDataSource, DisplayDataSource]

    def get_resources(self) -> list[type[Resource]]:
        from provider.resource_display import DisplayResource
        from provider.resource_item import ItemResource

        return [ItemResource, DisplayResource]
