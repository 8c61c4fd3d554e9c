"""`time_sleep`: waits on create and/or destroy, e.g. to give a service time to start.

Like hashicorp/time's resource_time_sleep.go: durations match `^[0-9]+(\\.[0-9]+)?(ms|s|m|h)$`; changing a
duration alone does not sleep again; a change of `triggers` replaces the resource and so sleeps again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

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
from tf.types import Map, String, Unknown
from tf.utils import Diagnostics

from examples.standins._duration import parse_duration

if TYPE_CHECKING:
    from examples.standins.time._provider import TimeProvider

DURATION_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")
_DURATION_HELP = "a number and a unit of ms, s, m or h, e.g. `30s` or `1.5m`"

SCHEMA = Schema(
    version=0,
    description="Waits for a duration when created and/or destroyed (offline stand-in of hashicorp/time).",
    attributes=[
        Attribute(
            "create_duration",
            String(),
            description=f"How long to wait when the resource is created: {_DURATION_HELP}. Changing it "
            "alone does not wait again.",
            optional=True,
        ),
        Attribute(
            "destroy_duration",
            String(),
            description=f"How long to wait when the resource is destroyed: {_DURATION_HELP}. It takes "
            "effect only once applied into state before the destroy.",
            optional=True,
        ),
        Attribute(
            "triggers",
            Map(String()),
            description="Arbitrary values that, when changed, replace the resource and so run the create "
            "and destroy waits again.",
            optional=True,
            requires_replace=True,
        ),
        Attribute(
            "id",
            String(),
            description="When the create wait finished, as an RFC 3339 UTC timestamp.",
            computed=True,
        ),
    ],
)


@dataclass
class SleepModel:
    create_duration: str | None
    destroy_duration: str | None
    triggers: dict[str, str] | None
    id: str | None

    @classmethod
    def from_state(cls, state: State) -> SleepModel:
        return cls(
            create_duration=state.get("create_duration"),
            destroy_duration=state.get("destroy_duration"),
            triggers=state.get("triggers"),
            id=state.get("id"),
        )

    def to_state(self) -> State:
        return asdict(self)


def validate_durations(diags: Diagnostics, config: Config) -> None:
    for name in ("create_duration", "destroy_duration"):
        value = config.get(name)
        if value is None or value is Unknown:
            continue
        if not isinstance(value, str) or not DURATION_PATTERN.match(value):
            diags.add_error(
                f"Invalid {name}",
                f"{name} must be {_DURATION_HELP}; got {value!r}.",
                path=[name],
            )


def _seconds(duration: str | None) -> float:
    return parse_duration(duration) if duration else 0.0


class SleepResource(Resource):
    def __init__(self, provider: TimeProvider):
        self._provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "sleep"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        validate_durations(diags, config)

    def _rfc3339_now(self) -> str:
        return self._provider.clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        validate_durations(ctx.diagnostics, planned)
        if ctx.diagnostics.has_errors():
            return None
        model = SleepModel.from_state(planned)
        self._provider.sleep(_seconds(model.create_duration))
        model.id = self._rfc3339_now()
        return model.to_state()

    def read(self, ctx: ReadContext, current: State) -> State | None:
        return current

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        validate_durations(ctx.diagnostics, planned)
        model = SleepModel.from_state(planned)
        model.id = current.get("id")
        return model.to_state()

    def delete(self, ctx: DeleteContext, current: State) -> None:
        duration = SleepModel.from_state(current).destroy_duration
        if duration and DURATION_PATTERN.match(duration):
            self._provider.sleep(_seconds(duration))

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        """Import id `CREATE_DURATION,DESTROY_DURATION`, either part empty (as the real resource)."""
        create_duration, comma, destroy_duration = id.partition(",")
        if not comma:
            ctx.diagnostics.add_error(
                "Invalid time_sleep import id",
                f"Expected CREATE_DURATION,DESTROY_DURATION (either may be empty, e.g. `30s,`); got {id!r}.",
            )
            return None
        model = SleepModel(
            create_duration=create_duration or None,
            destroy_duration=destroy_duration or None,
            triggers=None,
            id=self._rfc3339_now(),
        )
        validate_durations(ctx.diagnostics, model.to_state())
        return None if ctx.diagnostics.has_errors() else model.to_state()
