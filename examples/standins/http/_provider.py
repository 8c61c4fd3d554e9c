"""The hashicorp/http stand-in's provider: no settings; transport and sleeper are injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tf.iface import DataSource
from tf.schema import Schema

from examples.standins._offline import StandinProvider

if TYPE_CHECKING:
    # httpx is imported by the data source, after the handshake: it costs ~50 ms at start-up.
    import httpx

ADDRESS = "registry.terraform.io/hashicorp/http"
VERSION = "3.5.0"


class HttpProvider(StandinProvider):
    ADDRESS = ADDRESS
    VERSION = VERSION
    TYPE_PREFIX = "http"
    SCHEMA = Schema(version=0, description='Offline stand-in for hashicorp/http: data "http" only.')

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.transport = transport
        self.sleep = sleep

    def get_data_sources(self) -> list[type[DataSource]]:
        from examples.standins.http.data_source_http import HttpDataSource

        return [HttpDataSource]
