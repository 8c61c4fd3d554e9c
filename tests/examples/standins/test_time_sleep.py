"""time_sleep with an injected clock and sleeper: what it waits, when, and what it validates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tf.iface import CreateContext, DeleteContext, ImportContext, UpdateContext
from tf.types import Unknown
from tf.utils import Diagnostics

from examples.standins._duration import parse_duration
from examples.standins.time import TimeProvider
from examples.standins.time.resource_sleep import SleepResource

NOW = datetime(2026, 11, 27, 7, 30, 5, 123000, tzinfo=UTC)


class FakeSleeper:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeper() -> FakeSleeper:
    return FakeSleeper()


@pytest.fixture
def resource(sleeper: FakeSleeper) -> SleepResource:
    return SleepResource(TimeProvider(clock=lambda: NOW, sleep=sleeper))


def state(**values) -> dict:
    return {"create_duration": None, "destroy_duration": None, "triggers": None, "id": None, **values}


def test_create_sleeps_create_duration_and_records_when(
    resource: SleepResource, sleeper: FakeSleeper
) -> None:
    diags = Diagnostics()
    created = resource.create(CreateContext(diags, "time_sleep"), state(create_duration="1.5m", id=Unknown))
    assert not diags.diagnostics
    assert sleeper.calls == [90.0]
    assert created == state(create_duration="1.5m", id="2026-11-27T07:30:05Z")


def test_create_without_duration_does_not_wait(resource: SleepResource, sleeper: FakeSleeper) -> None:
    created = resource.create(CreateContext(Diagnostics(), "time_sleep"), state(destroy_duration="2s"))
    assert sleeper.calls == [0.0]
    assert created is not None and created["id"] == "2026-11-27T07:30:05Z"


def test_update_of_a_duration_does_not_wait_again(resource: SleepResource, sleeper: FakeSleeper) -> None:
    before = state(create_duration="5s", id="2026-01-01T00:00:00Z")
    after = resource.update(UpdateContext(Diagnostics(), "time_sleep"), before, state(create_duration="9s"))
    assert sleeper.calls == []
    assert after == state(create_duration="9s", id="2026-01-01T00:00:00Z")


def test_delete_sleeps_destroy_duration(resource: SleepResource, sleeper: FakeSleeper) -> None:
    resource.delete(
        DeleteContext(Diagnostics(), "time_sleep"), state(create_duration="5s", destroy_duration="250ms")
    )
    assert sleeper.calls == [0.25]


def test_triggers_force_replacement() -> None:
    triggers = next(a for a in SleepResource.get_schema().attributes if a.name == "triggers")
    assert triggers.requires_replace


@pytest.mark.parametrize("duration", ["5s", "0.5s", "100ms", "2m", "1h", "10.25s"])
def test_valid_durations(resource: SleepResource, duration: str) -> None:
    diags = Diagnostics()
    resource.validate(diags, "time_sleep", state(create_duration=duration, destroy_duration=duration))
    assert not diags.diagnostics


@pytest.mark.parametrize("duration", ["5", "s", "-1s", "1m30s", "1.s", "5 s", "1d", "", "1us"])
def test_invalid_durations_name_the_attribute(resource: SleepResource, duration: str) -> None:
    diags = Diagnostics()
    resource.validate(diags, "time_sleep", state(create_duration=duration, destroy_duration="1s"))
    assert [(d.severity, d.path) for d in diags.diagnostics] == [("error", ["create_duration"])]
    assert repr(duration) in (diags.diagnostics[0].detail or "")


def test_unknown_durations_are_validated_later(resource: SleepResource) -> None:
    diags = Diagnostics()
    resource.validate(diags, "time_sleep", state(create_duration=Unknown))
    assert not diags.diagnostics


def test_import_reads_both_durations(resource: SleepResource) -> None:
    diags = Diagnostics()
    imported = resource.import_(ImportContext(diags, "time_sleep"), "30s,")
    assert imported == state(create_duration="30s", id="2026-11-27T07:30:05Z")
    bad = Diagnostics()
    assert resource.import_(ImportContext(bad, "time_sleep"), "30s") is None
    assert bad.has_errors()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("-2s", -2.0),
        ("3us", 3e-6),
    ],
)
def test_parse_duration_reads_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "1.s5", "1x", ".s"])
def test_parse_duration_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
