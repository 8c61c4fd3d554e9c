"""`demoapp_display`: the service's display document, restored from state after the service loses it.

The design that makes the restore work, even under `lifecycle { ignore_changes = [data] }`:
- `data` is what was last applied and stays in state; Read never overwrites it with what the service
  holds (a restarted service holds nothing, and copying `{}` in would lose the payload);
- Read refreshes only `live_hash`, the hash of what the service holds now (null when it holds nothing);
- the plan hook plans `live_hash` as the hash of the planned `data`. When the service lost or changed
  the document the two differ, which is an in-place update; Update then PUTs the planned `data`, which
  under `ignore_changes` is the prior state's string, byte for byte.
Semantically equal JSON (key order, whitespace) plans no change: the hook keeps the prior string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tf.iface import (
    Config,
    CreateContext,
    DeleteContext,
    ImportContext,
    PlanContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Attribute, Schema
from tf.types import String, Unknown
from tf.utils import Diagnostics

from provider._diagnostics import report
from provider._errors import ClientError, NotFound

if TYPE_CHECKING:
    from provider._provider import DemoappProvider

DISPLAY_ID = "display"

SCHEMA = Schema(
    version=1,
    description="The display document of the demo service (`/api/display`), a singleton. If the service "
    "loses or changes it (restart, edit in the page), the next apply puts back the document from state, "
    "also with `lifecycle { ignore_changes = [data] }`. Destroy clears the display.",
    attributes=[
        Attribute(
            "id",
            String(),
            description=f'Always `"{DISPLAY_ID}"`: the service has one display.',
            computed=True,
            default=DISPLAY_ID,
        ),
        Attribute(
            "data",
            String(),
            description="The document, a JSON string (e.g. from `jsonencode()`). Semantically equal JSON "
            "(key order, whitespace) is no change. Sent to the service byte for byte.",
            required=True,
        ),
        Attribute(
            "live_hash",
            String(),
            description="SHA-256 of the canonical JSON of the document the service holds now, null when "
            "it holds none. When it differs from the hash of `data`, the next apply restores `data`.",
            computed=True,
        ),
    ],
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> Any:
    """Strict JSON: Python's extensions NaN and Infinity are refused, as the service refuses them."""
    return json.loads(text, parse_constant=_reject_constant)


def canonical_hash(text: str) -> str:
    """The service's display hash (docs/architecture.md): sha256 of the canonical JSON of the document."""
    canonical = json.dumps(parse_json(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _invalid_json(diags: Diagnostics, exc: ValueError) -> None:
    diags.add_error("Invalid JSON in data", f"data must be a JSON document: {exc}.", path=["data"])


@dataclass(frozen=True)
class DisplayModel:
    id: str
    data: str
    live_hash: str | None

    @classmethod
    def applied(cls, data: str) -> DisplayModel:
        return cls(id=DISPLAY_ID, data=data, live_hash=canonical_hash(data))

    def to_state(self) -> State:
        return asdict(self)


class DisplayResource(Resource):
    def __init__(self, provider: DemoappProvider):
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "display"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        data = config.get("data")
        if isinstance(data, str):
            try:
                parse_json(data)
            except ValueError as exc:
                _invalid_json(diags, exc)

    def plan(self, ctx: PlanContext, current: State | None, planned: State) -> State | None:
        data = planned.get("data")
        if current is None or not isinstance(data, str):
            planned["live_hash"] = Unknown
            return planned
        prior = current.get("data")
        try:
            if isinstance(prior, str) and data != prior and parse_json(data) == parse_json(prior):
                planned["data"] = prior
            planned["live_hash"] = canonical_hash(planned["data"])
        except ValueError as exc:
            _invalid_json(ctx.diagnostics, exc)
        return planned

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return self._put(ctx.diagnostics, planned["data"], None)

    def read(self, ctx: ReadContext, current: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return current
        try:
            document = client.get_display()
        except ClientError as exc:
            report(ctx.diagnostics, "read the display", exc)
            return current
        return {**current, "live_hash": self._hash_of_live(document.text if document else None)}

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return self._put(ctx.diagnostics, planned["data"], current)

    def delete(self, ctx: DeleteContext, current: State) -> State | None:
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return current
        try:
            client.delete_display()
        except NotFound:
            pass  # nothing to clear
        except ClientError as exc:
            report(ctx.diagnostics, "clear the display", exc)
            return current
        return None

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        if id != DISPLAY_ID:
            ctx.diagnostics.add_error(
                "Invalid display id", f'The service has one display; import it with the id "{DISPLAY_ID}".'
            )
            return None
        client = self.provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            document = client.get_display()
        except ClientError as exc:
            report(ctx.diagnostics, "import the display", exc)
            return None
        if document is None:
            ctx.diagnostics.add_error("Cannot import the display", "The service has no display set.")
            return None
        return DisplayModel(DISPLAY_ID, document.text, self._hash_of_live(document.text)).to_state()

    def _put(self, diags: Diagnostics, data: str, current: State | None) -> State | None:
        client = self.provider.client(diags)
        if client is None:
            return current
        try:
            model = DisplayModel.applied(data)
            client.put_display(data)
        except ValueError as exc:
            _invalid_json(diags, exc)
            return current
        except ClientError as exc:
            report(diags, "set the display", exc, frozenset({"data"}))
            return current
        return model.to_state()

    @staticmethod
    def _hash_of_live(text: str | None) -> str | None:
        if text is None:
            return None
        try:
            return canonical_hash(text)
        except ValueError:
            # Not JSON: cannot match any `data`, so the next apply replaces it. Null says the same.
            return None
