"""Resource and provider logic without terraform: plan hook, validation, configuration."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest
from tf.iface import ImportContext, PlanContext, ReadContext
from tf.types import Unknown
from tf.utils import Diagnostics

from provider._client import DemoappClient
from provider._provider import DemoappProvider, endpoint_problem
from provider._types import Object
from provider.resource_display import DisplayResource, canonical_hash
from provider.resource_item import ItemResource


def contract_hash(value: object) -> str:
    """docs/architecture.md's definition, written out independently of the provider."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_canonical_hash_is_the_contract_hash_and_ignores_layout() -> None:
    document = {"b": [1, 2.5, None], "a": {"ü": "ß"}}
    assert canonical_hash(json.dumps(document)) == contract_hash(document)
    assert canonical_hash('{ "a": {"ü":"ß"},\n "b": [1, 2.5, null] }') == contract_hash(document)
    with pytest.raises(ValueError):
        canonical_hash("NaN")


def display(provider: DemoappProvider | None = None) -> DisplayResource:
    return DisplayResource(provider or DemoappProvider(environ={}))


def plan(current: dict[str, Any], planned: dict[str, Any]) -> tuple[dict[str, Any], Diagnostics]:
    diags = Diagnostics()
    result = display().plan(PlanContext(diags, "demoapp_display", set()), current, planned)
    assert result is not None
    return result, diags


def test_plan_keeps_prior_string_for_semantically_equal_json() -> None:
    prior = '{"a":1,"b":2}'
    current = {"id": "display", "data": prior, "live_hash": canonical_hash(prior)}
    planned, diags = plan(current, {**current, "data": '{ "b": 2, "a": 1 }'})
    assert planned == current and not diags.has_errors()


def test_plan_forces_update_when_the_service_lost_the_document() -> None:
    prior = '{"captured_at":"2026-01-01T00:00:00Z"}'
    current = {"id": "display", "data": prior, "live_hash": None}  # Read found nothing
    planned, _ = plan(current, dict(current))
    assert planned["data"] == prior, "the prior payload is what gets put back"
    assert planned["live_hash"] == canonical_hash(prior) != current["live_hash"]


def test_plan_with_unknown_data_plans_unknown_hash() -> None:
    current = {"id": "display", "data": "{}", "live_hash": canonical_hash("{}")}
    planned, _ = plan(current, {**current, "data": Unknown})
    assert planned["live_hash"] is Unknown


def test_invalid_json_is_a_diagnostic_on_data() -> None:
    diags = Diagnostics()
    display().validate(diags, "demoapp_display", {"id": None, "data": "{nope", "live_hash": None})
    [diagnostic] = diags.diagnostics
    assert diagnostic.path == ["data"] and "Invalid JSON" in diagnostic.summary


def test_read_keeps_data_and_refreshes_only_the_live_hash() -> None:
    provider = DemoappProvider(environ={})
    provider._client = DemoappClient(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
    )
    current = {"id": "display", "data": '{"x":1}', "live_hash": canonical_hash('{"x":1}')}
    state = display(provider).read(ReadContext(Diagnostics(), "demoapp_display"), current)
    assert state == {**current, "live_hash": None}


def test_import_returns_every_attribute() -> None:
    provider = DemoappProvider(environ={})
    item = {"id": 3, "name": "n", "description": None, "created_at": "t", "updated_at": "t"}
    provider._client = DemoappClient(
        "http://127.0.0.1:9", transport=httpx.MockTransport(lambda request: httpx.Response(200, json=item))
    )
    state = ItemResource(provider).import_(ImportContext(Diagnostics(), "demoapp_item"), "3")
    assert state is not None
    assert set(state) == {attribute.name for attribute in ItemResource.get_schema().attributes}
    assert state["id"] == "3" and state["description"] is None


def test_item_name_length_is_validated_on_name() -> None:
    diags = Diagnostics()
    ItemResource(DemoappProvider(environ={})).validate(
        diags, "demoapp_item", {"id": None, "name": "", "description": None, "created_at": None}
    )
    assert [d.path for d in diags.diagnostics] == [["name"]]


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://127.0.0.1:8080", True),
        ("https://demo.example/base/", True),
        ("127.0.0.1:8080", False),
        ("ftp://host", False),
        ("http://", False),
        ("http://host:99999", False),
        ("http://host/?q=1", False),
    ],
)
def test_endpoint_validation(endpoint: str, ok: bool) -> None:
    assert (endpoint_problem(endpoint) is None) is ok


def configure(config: dict[str, object], environ: dict[str, str]) -> tuple[DemoappProvider, Diagnostics]:
    provider = DemoappProvider(environ=environ)
    diags = Diagnostics()
    provider.configure_provider(
        diags, {"endpoint": None, "token": None, "timeout": None, "retries": None, **config}
    )
    return provider, diags


def test_configure_reports_missing_and_malformed_endpoint_on_the_attribute() -> None:
    _, diags = configure({}, {})
    assert [(d.summary, d.path) for d in diags.diagnostics] == [("Missing demoapp endpoint", ["endpoint"])]
    _, diags = configure({}, {"DEMOAPP_ENDPOINT": "not a url"})
    assert [(d.summary, d.path) for d in diags.diagnostics] == [("Invalid demoapp endpoint", ["endpoint"])]
    provider, diags = configure({}, {"DEMOAPP_ENDPOINT": "http://127.0.0.1:1"})
    assert not diags.diagnostics and provider.client(diags) is not None


@pytest.mark.parametrize(
    ("name", "value"), [("timeout", 0), ("timeout", 10_000), ("retries", -1), ("retries", 1.5)]
)
def test_timeout_and_retries_ranges(name: str, value: float) -> None:
    _, diags = configure({"endpoint": "http://127.0.0.1:1", name: value}, {})
    assert [d.path for d in diags.diagnostics] == [[name]]


def test_unknown_endpoint_defers_the_client() -> None:
    provider, diags = configure({"endpoint": Unknown}, {})
    assert not diags.diagnostics
    assert provider.client(diags) is None and diags.has_errors()


def test_object_type_wire_format() -> None:
    from tf.types import Number, String

    kind = Object({"id": String(), "n": Number()})
    assert json.loads(kind.tf_type()) == ["object", {"id": "string", "n": "number"}]
    assert kind.encode({"id": "1"}) == {"id": "1", "n": None}
