"""`data "demoapp_display"`: the display document the service holds now."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from tf.iface import Config, DataSource, ReadDataContext, State
from tf.schema import Attribute, Schema
from tf.types import Bool, String

from provider._diagnostics import report
from provider._errors import ClientError, DisplayDocument
from provider.resource_display import canonical_hash

if TYPE_CHECKING:
    from provider._provider import DemoappProvider

SCHEMA = Schema(
    version=1,
    description="The display document the demo service holds now (`GET /api/display`).",
    attributes=[
        Attribute(
            "data",
            String(),
            description='The document as stored, byte for byte; `"{}"` when none is set.',
            computed=True,
        ),
        Attribute("is_set", Bool(), description="Whether a display document is set.", computed=True),
        Attribute(
            "hash",
            String(),
            description="SHA-256 of the document's canonical JSON (the service's ETag); "
            "null when none is set.",
            computed=True,
        ),
        Attribute(
            "updated_at",
            String(),
            description="When the document was last put (RFC 3339); null when none is set.",
            computed=True,
        ),
    ],
)


@dataclass(frozen=True)
class DisplayReadModel:
    data: str
    is_set: bool
    hash: str | None
    updated_at: str | None

    @classmethod
    def from_api(cls, document: DisplayDocument | None) -> DisplayReadModel:
        if document is None:
            return cls(data="{}", is_set=False, hash=None, updated_at=None)
        try:
            digest: str | None = canonical_hash(document.text)
        except ValueError:
            digest = None
        return cls(data=document.text, is_set=True, hash=digest, updated_at=document.updated_at)


class DisplayDataSource(DataSource):
    def __init__(self, provider: DemoappProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "display"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            document = client.get_display()
        except ClientError as exc:
            report(ctx.diagnostics, "read the display", exc)
            return None
        return asdict(DisplayReadModel.from_api(document))
