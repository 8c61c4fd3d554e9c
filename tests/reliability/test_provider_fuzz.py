"""Every attribute of the provider gets wrong types, empty strings, huge strings, invalid JSON and unicode.

Real terraform against a real service (started with a token). Each value ends in one of two ways: an
error diagnostic, or an apply whose result the service holds and a plan that shows no change. Never a
plugin crash: no "Plugin error", panic, traceback or gRPC failure text anywhere in terraform's output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform, install_mirror
from tests.reliability.conftest import Tally

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

TOKEN = "fuzz-token-5f0c2a"
CRASH_MARKERS = re.compile(
    r"Plugin error|panic|Traceback|plugin did not respond|rpc error|unexpected EOF|Plugin exited",
    re.IGNORECASE,
)
HUGE = 'format("%0200000d", 0)'  # 200,000 characters: over the item body limit, under the display's
HUGER = 'format("%02000000d", 0)'  # 2,000,000 characters: over the display's 1 MiB limit
WRONG_TYPES = ["[]", "{ a = 1 }", '["a", "b"]']
UNICODE = ['"名前 🚀 ‮ rtl ✓"', '"tab\\tnew\\nline"', '"\\u0000nul"']


@dataclass(frozen=True)
class Case:
    attribute: str
    value: str

    def config(self, endpoint: str) -> str:
        provider = {"endpoint": f'"{endpoint}"', "token": f'"{TOKEN}"', "retries": "0", "timeout": "5"}
        item = {"name": '"probe"', "description": "null"}
        display: dict[str, str] = {}
        items_filter: dict[str, str] = {}
        block, _, name = self.attribute.partition(".")
        target = {"provider": provider, "item": item, "display": display, "items": items_filter}[block]
        target[name] = self.value
        body = _block('provider "demoapp"', provider) + _block('resource "demoapp_item" "fuzz"', item)
        if block == "display":
            body += _block('resource "demoapp_display" "fuzz"', display)
        if block == "items":
            body += _block('data "demoapp_items" "fuzz"', items_filter)
        return REQUIRED_PROVIDERS + body


def _block(header: str, attributes: dict[str, str]) -> str:
    lines = "".join(f"  {name} = {value}\n" for name, value in attributes.items())
    return f"{header} {{\n{lines}}}\n"


CASES = [
    *[Case("provider.endpoint", value) for value in ['""', "42", "true", '"not a url"', '"ftp://x"']],
    *[Case("provider.endpoint", value) for value in ['"http://127.0.0.1:0"', '"http://[::1"', HUGE]],
    *[Case("provider.endpoint", value) for value in [*WRONG_TYPES, '"http://ü.example:99999"']],
    *[Case("provider.token", value) for value in ['""', "42", "true", HUGE, *WRONG_TYPES, *UNICODE]],
    *[Case("provider.token", value) for value in ['"wrong"', '"a\\r\\nX-Injected: 1"']],
    *[Case("provider.timeout", value) for value in ['""', '"abc"', "-1", "0", "1e308", "true", *WRONG_TYPES]],
    *[Case("provider.retries", value) for value in ['""', "1.5", "-1", "1000", '"x"', *WRONG_TYPES]],
    *[Case("item.name", value) for value in ['""', "null", "42", "true", HUGE, '"' + "n" * 257 + '"']],
    *[Case("item.name", value) for value in [*WRONG_TYPES, *UNICODE, '"<script>alert(1)</script>"']],
    *[Case("item.description", value) for value in ['""', "42", "false", HUGE, *WRONG_TYPES, *UNICODE]],
    *[Case("display.data", value) for value in ['""', '"{"', '"not json"', '"[1, 2"', '"NaN"', "42"]],
    *[Case("display.data", value) for value in ['"null"', '"\\"\\\\ud800\\""', '"{\\"a\\": 1} trailing"']],
    *[
        Case("display.data", value)
        for value in [f"jsonencode({{ big = {HUGE} }})", f"jsonencode({{ big = {HUGER} }})", HUGE]
    ],
    *[
        Case("display.data", value)
        for value in [*WRONG_TYPES, 'jsonencode({ "名" = "✓ 🚀", "<b>" = "</script>" })']
    ],
    *[Case("items.name", value) for value in ['""', "42", HUGE, *WRONG_TYPES, *UNICODE]],
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    demo = DemoService(log_dir=tmp_path_factory.mktemp("service"), extra_args=("--token", TOKEN))
    demo.start()
    yield demo
    demo.kill()


@pytest.fixture(scope="module")
def terraform(tmp_path_factory: pytest.TempPathFactory, service: DemoService) -> Terraform:
    work = tmp_path_factory.mktemp("work")
    runner = Terraform(work / "config", install_mirror(work))
    runner.write(Case("item.name", '"init"').config(service.url))
    runner.init()
    return runner


def _server_holds_what_state_holds(terraform: Terraform, service: DemoService) -> None:
    shown = json.loads(terraform.run("show", "-json", "-no-color").stdout)
    resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with service.api() as api:
        for resource in resources:
            values = resource["values"]
            if resource["type"] == "demoapp_item":
                live = api.get(f"/api/items/{values['id']}", headers=headers).json()
                assert (live["name"], live["description"]) == (values["name"], values["description"])
            elif resource["type"] == "demoapp_display":
                live_text = api.get("/api/display", headers=headers).text
                assert json.loads(live_text) == json.loads(values["data"])


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.attribute}={case.value[:24]}")
def test_bad_value_gets_a_diagnostic_or_a_correct_apply(
    case: Case, terraform: Terraform, service: DemoService, tally: Tally
) -> None:
    terraform.write(case.config(service.url))
    applied = terraform.apply(check=False)
    output = applied.stdout + applied.stderr
    tally.cases = 1
    assert not CRASH_MARKERS.search(output), output[-3000:]
    assert TOKEN not in output, "the token must never be shown"
    if applied.returncode != 0:
        assert "Error: " in output, output[-3000:]
        tally.notes["outcome"] = "diagnostic"
        return
    tally.notes["outcome"] = "applied"
    _server_holds_what_state_holds(terraform, service)
    code, plan = terraform.plan_exit_code()
    assert code == 0, plan[-3000:]
    terraform.destroy()


def test_cases_cover_every_attribute(terraform: Terraform) -> None:
    """Every configurable attribute of the provider, its resources and the items data source is fuzzed."""
    schemas = json.loads(terraform.run("providers", "schema", "-json").stdout)
    (provider,) = schemas["provider_schemas"].values()

    def settable(block: dict[str, dict[str, dict[str, bool]]]) -> set[str]:
        return {
            name
            for name, spec in block["attributes"].items()
            if not spec.get("computed") or spec.get("optional")
        }

    expected = {f"provider.{name}" for name in settable(provider["provider"]["block"])}
    expected |= {f"item.{name}" for name in settable(provider["resource_schemas"]["demoapp_item"]["block"])}
    expected |= {
        f"display.{name}" for name in settable(provider["resource_schemas"]["demoapp_display"]["block"])
    }
    expected |= {
        f"items.{name}" for name in settable(provider["data_source_schemas"]["demoapp_items"]["block"])
    }
    assert expected == {case.attribute for case in CASES}


def test_fuzz_service_survived(service: DemoService) -> None:
    assert service.process is not None and service.process.poll() is None
    with service.api() as api:
        assert api.get("/health").status_code == 200
