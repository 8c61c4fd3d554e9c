"""A test-only provider whose creates meet at a barrier: it proves how many operations run at once.

`barrier_wait` creates block until `parties` of them are in flight together; if the gRPC server serves
fewer at a time, the barrier times out and each create reports it. Served by `provider._server.serve`,
like the real provider, so it measures the same worker setting.
"""

from __future__ import annotations

import threading
from typing import Any

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
from tf.schema import Attribute, Schema
from tf.types import Number, String
from tf.utils import Diagnostics

from provider._server import serve

ADDRESS = "registry.terraform.io/demoapp/barrier"
BARRIER_TIMEOUT = 10.0


class BarrierProvider(Provider):
    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None

    def get_model_prefix(self) -> str:
        return "barrier_"

    def full_name(self) -> str:
        return ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return Schema(
            version=1,
            attributes=[Attribute("parties", Number(), description="Creates to wait for.", required=True)],
        )

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        self.barrier = threading.Barrier(int(config["parties"]))

    def get_data_sources(self) -> list[type[DataSource]]:
        return []

    def get_resources(self) -> list[type[Resource]]:
        return [WaitResource]


class WaitResource(Resource):
    def __init__(self, provider: BarrierProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "wait"

    @classmethod
    def get_schema(cls) -> Schema:
        return Schema(
            version=1,
            attributes=[
                Attribute("id", String(), description="Position at the barrier.", computed=True),
            ],
        )

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        barrier = self.provider.barrier
        assert barrier is not None
        try:
            position = barrier.wait(timeout=BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            ctx.diagnostics.add_error(
                "Barrier broken",
                f"fewer than {barrier.parties} creates ran at the same time within {BARRIER_TIMEOUT} s",
            )
            return None
        return {"id": str(position)}

    def read(self, ctx: ReadContext, current: State) -> State | None:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return planned

    def delete(self, ctx: DeleteContext, current: State) -> Any:
        return None


if __name__ == "__main__":
    serve(BarrierProvider, program="barrier provider")
