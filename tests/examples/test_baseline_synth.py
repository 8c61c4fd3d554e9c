"""The synthesized baseline: the chain the demo relies on, as Terraform will read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from examples.baseline import LOCAL_STATE_PATH, BaselineSettings, SettingsError, synthesize


def _synth(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    path = synthesize(BaselineSettings(**settings), tmp_path)
    assert path == tmp_path / "cdk.tf.json"
    return dict(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _synth(tmp_path_factory.mktemp("baseline"), port=18080, items=5, container_name="demo-test")


def test_default_settings_serve_the_page_on_8080() -> None:
    assert BaselineSettings().app_url == "http://127.0.0.1:8080"
    assert BaselineSettings().items == 3


def test_container_is_published_on_loopback_only_with_healthcheck_and_wait(config: dict[str, Any]) -> None:
    container = config["resource"]["docker_container"]["container"]
    assert container["ports"] == [{"internal": 8080, "external": 18080, "ip": "127.0.0.1"}]
    assert container["name"] == "demo-test"
    assert container["wait"] is True
    assert container["read_only"] is True
    assert set(container["tmpfs"]) == {"/tmp"}
    assert container["healthcheck"]["test"] == ["CMD", "demo-app", "healthcheck"]
    assert container["image"] == "${docker_image.image.image_id}"
    assert config["resource"]["docker_image"]["image"]["keep_locally"] is True


def test_sleep_is_triggered_by_the_container_so_one_apply_recovers(config: dict[str, Any]) -> None:
    sleep = config["resource"]["time_sleep"]["settle"]
    assert sleep["triggers"] == {"container_id": "${docker_container.container.id}"}
    system = config["data"]["http"]["system"]
    assert system["depends_on"] == ["time_sleep.settle"]
    assert system["url"] == "http://127.0.0.1:18080/api/system"
    assert system["retry"]["attempts"] >= 3


def test_display_captures_system_info_and_ignores_later_changes(config: dict[str, Any]) -> None:
    display = config["resource"]["demoapp_display"]["display"]
    assert display["lifecycle"] == {"ignore_changes": ["data"]}
    data = display["data"]
    assert data.startswith("${jsonencode({") and data.endswith("})}")
    for expression in (
        '"captured_at" = timestamp()',
        '"system_info" = jsondecode(data.http.system.response_body)',
        '"fetched_from" = "http://127.0.0.1:18080/api/system"',
        '"source" = ',
    ):
        assert expression in data


def test_items_use_count(config: dict[str, Any]) -> None:
    item = config["resource"]["demoapp_item"]["item"]
    assert item["count"] == 5
    assert "${count.index + 1}" in item["name"]
    assert item["depends_on"] == ["time_sleep.settle"]


def test_outputs_and_providers(config: dict[str, Any]) -> None:
    assert set(config["output"]) == {"app_url", "container_id", "system_info", "items"}
    assert config["output"]["app_url"]["value"] == "http://127.0.0.1:18080"
    assert "demoapp_item.item" in config["output"]["items"]["value"]
    # Not from data.http, read again on every plan: the output would change on every plan.
    assert (
        config["output"]["system_info"]["value"] == "${jsondecode(demoapp_display.display.data).system_info}"
    )
    required = config["terraform"]["required_providers"]
    assert required["docker"] == {"source": "kreuzwerker/docker", "version": "3.6.2"}
    assert required["time"]["version"] == "0.13.1"
    assert required["http"]["version"] == "3.5.0"
    assert required["demoapp"] == {"source": "demoapp/demoapp", "version": "0.1.0"}
    assert config["provider"]["demoapp"] == [{"endpoint": "http://127.0.0.1:18080"}]


def test_local_backend_keeps_state_in_the_work_folder(config: dict[str, Any]) -> None:
    assert config["terraform"]["backend"] == {"local": {"path": LOCAL_STATE_PATH}}
    assert not Path(LOCAL_STATE_PATH).is_absolute()


def test_pg_backend(tmp_path: Path) -> None:
    conn = "postgres://demo@127.0.0.1:5432/demo?sslmode=disable"
    config = _synth(tmp_path, pg_conn_str=conn, pg_schema="team_demo")
    assert config["terraform"]["backend"] == {"pg": {"conn_str": conn, "schema_name": "team_demo"}}


def test_zero_items_is_allowed(tmp_path: Path) -> None:
    assert _synth(tmp_path, items=0)["resource"]["demoapp_item"]["item"]["count"] == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"items": -1}, "items"),
        ({"items": 100000}, "items"),
        ({"image": " "}, "image"),
        ({"container_name": "bad name!"}, "container_name"),
        ({"settle": "2 seconds"}, "settle"),
        ({"pg_conn_str": "mysql://x"}, "pg_conn_str"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingsError) as raised:
        BaselineSettings(**settings)
    assert raised.value.field == field


def test_settings_round_trip_through_json() -> None:
    settings = BaselineSettings(port=9000, items=7, pg_conn_str="postgresql://a@127.0.0.1/b")
    assert BaselineSettings.from_json(json.loads(json.dumps(settings.to_json()))) == settings


def test_synth_module_is_runnable_for_plain_terraform(tmp_path: Path) -> None:
    from examples.baseline.__main__ import main

    assert main(["--out", str(tmp_path), "--port", "9090", "--items", "2"]) == 0
    config = json.loads((tmp_path / "cdk.tf.json").read_text())
    assert config["resource"]["demoapp_item"]["item"]["count"] == 2
