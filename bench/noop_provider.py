"""A provider that does no work: the floor under the ratio `make bench-provider` reports.

`noop_item` has `demoapp_item`'s schema and answers from memory, without HTTP or a service. It is served
by `provider._server.serve` and warm-started by a zygote like the real provider, so an apply of N
`noop_item` costs what any Python provider on `tf` and this gRPC server costs Terraform: the part of
`demoapp_item`'s time that no work in its resource code can remove.
"""

from __future__ import annotations

import itertools

from tf.iface import (
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    Provider,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Schema
from tf.utils import Diagnostics

from provider._server import serve
from provider.resource_item import SCHEMA as ITEM_SCHEMA

ADDRESS = "registry.terraform.io/demoapp/noop"
VERSION = "0.0.1"
CREATED_AT = "2026-01-01T00:00:00Z"


class NoopProvider(Provider):
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def get_model_prefix(self) -> str:
        return "noop_"

    def full_name(self) -> str:
        return ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(version=1, attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        pass

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [NoopItem]


class NoopItem(Resource):
    def __init__(self, provider: NoopProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "item"

    @classmethod
    def get_schema(cls) -> Schema:
        return ITEM_SCHEMA

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return {**planned, "id": str(next(self.provider.ids)), "created_at": CREATED_AT}

    def read(self, ctx: ReadContext, current: State) -> State | None:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return {**planned, "id": current["id"], "created_at": current["created_at"]}

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        return None


if __name__ == "__main__":
    serve(NoopProvider, program="noop provider")
