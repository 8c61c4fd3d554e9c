"""`data "demoapp_items"`: the service's items, optionally only those with a given name."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tf.iface import Config, DataSource, ReadDataContext, State
from tf.schema import Attribute, Schema
from tf.types import List, String

from provider._diagnostics import report
from provider._errors import ClientError
from provider._types import Object

if TYPE_CHECKING:
    from provider._provider import DemoappProvider

ITEM_TYPE = Object(
    {
        "id": String(),
        "name": String(),
        "description": String(),
        "created_at": String(),
        "updated_at": String(),
    }
)

SCHEMA = Schema(
    version=1,
    description="The items of the demo service (`GET /api/items`), in id order.",
    attributes=[
        Attribute(
            "name",
            String(),
            description="Only items with exactly this name. Unset: all items.",
            optional=True,
        ),
        Attribute(
            "items",
            List(ITEM_TYPE),
            description="The items: objects with `id`, `name`, `description` (null when unset), "
            "`created_at` and `updated_at`.",
            computed=True,
        ),
    ],
)


@dataclass(frozen=True)
class ItemsModel:
    name: str | None
    items: list[dict[str, Any]]

    @classmethod
    def from_api(cls, name: str | None, items: list[Any]) -> ItemsModel:
        records = [
            {
                "id": str(item["id"]),
                "name": item.get("name"),
                "description": item.get("description"),
                "created_at": item.get("created_at"),
                "updated_at": item.get("updated_at"),
            }
            for item in items
            if isinstance(item, dict) and "id" in item and (name is None or item.get("name") == name)
        ]
        return cls(name=name, items=records)


class ItemsDataSource(DataSource):
    def __init__(self, provider: DemoappProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "items"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            items = client.list_items()
        except ClientError as exc:
            report(ctx.diagnostics, "list items", exc)
            return None
        return asdict(ItemsModel.from_api(config.get("name"), items))
