"""`demoapp_item`: one item of the demo service, updated in place, importable by id."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tf.iface import (
    Config,
    CreateContext,
    DeleteContext,
    ImportContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Attribute, Schema
from tf.types import String
from tf.utils import Diagnostics

from provider._diagnostics import report
from provider._errors import ClientError, NotFound

if TYPE_CHECKING:
    from provider._provider import DemoappProvider

NAME_MAX_LENGTH = 256

SCHEMA = Schema(
    version=1,
    description="An item of the demo service (`/api/items`). Changes to `name` or `description` update the "
    "item in place. If the item disappears from the service (e.g. it restarted empty), the next plan "
    "creates it again.",
    attributes=[
        Attribute(
            "id",
            String(),
            description="The item's id, assigned by the service (an integer, as a string).",
            computed=True,
        ),
        Attribute(
            "name",
            String(),
            description=f"The item's name, 1 to {NAME_MAX_LENGTH} characters.",
            required=True,
        ),
        Attribute(
            "description",
            String(),
            description='Free text. Left unset it stays null on the service too (never `""`).',
            optional=True,
        ),
        Attribute(
            "created_at",
            String(),
            description="When the service created the item (RFC 3339).",
            computed=True,
        ),
    ],
)
_API_FIELDS = frozenset({"name", "description"})


@dataclass(frozen=True)
class ItemModel:
    id: str
    name: str
    description: str | None
    created_at: str | None

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> ItemModel:
        return cls(
            id=str(item["id"]),
            name=item["name"],
            description=item.get("description"),
            created_at=item.get("created_at"),
        )

    def to_state(self) -> State:
        return asdict(self)


def parse_item_id(diags: Diagnostics, raw: Any, path: list[str | tuple[str | int]] | None) -> int | None:
    try:
        return int(str(raw), 10)
    except ValueError:
        diags.add_error("Invalid item id", f"An item id is an integer, got {raw!r}.", path=path)
        return None


class ItemResource(Resource):
    def __init__(self, provider: DemoappProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "item"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        name = config.get("name")
        if isinstance(name, str) and not 1 <= len(name) <= NAME_MAX_LENGTH:
            diags.add_error(
                "Invalid item name",
                f"name must be 1 to {NAME_MAX_LENGTH} characters, got {len(name)}.",
                path=["name"],
            )

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            item = client.create_item(planned["name"], planned.get("description"))
            return ItemModel.from_api(item).to_state()
        except (ClientError, KeyError) as exc:
            self._report(ctx.diagnostics, "create item", exc)
            return None

    def read(self, ctx: ReadContext, current: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        item_id = parse_item_id(ctx.diagnostics, current.get("id"), ["id"])
        if client is None or item_id is None:
            return current
        try:
            return ItemModel.from_api(client.get_item(item_id)).to_state()
        except NotFound:
            return None  # gone from the service: Terraform plans to create it again
        except (ClientError, KeyError) as exc:
            self._report(ctx.diagnostics, f"read item {item_id}", exc)
            return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        item_id = parse_item_id(ctx.diagnostics, current.get("id"), ["id"])
        if client is None or item_id is None:
            return current
        try:
            item = client.replace_item(item_id, planned["name"], planned.get("description"))
            return ItemModel.from_api(item).to_state()
        except (ClientError, KeyError) as exc:
            self._report(ctx.diagnostics, f"update item {item_id}", exc)
            return current

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        item_id = parse_item_id(ctx.diagnostics, current.get("id"), ["id"])
        if client is None or item_id is None:
            return current
        try:
            client.delete_item(item_id)
        except NotFound:
            pass  # already gone: that is what destroy wants
        except ClientError as exc:
            self._report(ctx.diagnostics, f"delete item {item_id}", exc)
            return current
        return None

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        item_id = parse_item_id(ctx.diagnostics, id, None)
        if client is None or item_id is None:
            return None
        try:
            return ItemModel.from_api(client.get_item(item_id)).to_state()
        except NotFound:
            ctx.diagnostics.add_error("Cannot import item", f"The service has no item with id {item_id}.")
        except (ClientError, KeyError) as exc:
            self._report(ctx.diagnostics, f"import item {item_id}", exc)
        return None

    @staticmethod
    def _report(diags: Diagnostics, action: str, exc: ClientError | KeyError) -> None:
        if isinstance(exc, KeyError):
            diags.add_error(f"Cannot {action}", f"The service's answer has no {exc} field.")
        else:
            report(diags, action, exc, _API_FIELDS)
