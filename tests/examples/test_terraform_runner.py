"""The reusable terraform runner, against terraform's built-in `terraform_data` (no providers needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.harness import Event, Terraform, TerraformError

pytestmark = pytest.mark.terraform


def _config(count: int, value: str = "v1") -> dict[str, object]:
    return {
        "resource": {"terraform_data": {"thing": {"count": count, "input": value}}},
        "output": {"values": {"value": "${terraform_data.thing[*].output}"}},
    }


@pytest.fixture
def terraform(tmp_path: Path) -> Terraform:
    cli_config = tmp_path / "terraform.tfrc"
    cli_config.write_text("# no providers needed: terraform_data is built in\n")
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "main.tf.json").write_text(json.dumps(_config(3)))
    runner = Terraform(folder, cli_config)
    runner.init()
    return runner


def test_environment_is_isolated(terraform: Terraform) -> None:
    env = terraform.env
    assert env["TF_CLI_CONFIG_FILE"] == str(terraform.cli_config)
    assert env["CHECKPOINT_DISABLE"] == "1"
    assert env["TF_IN_AUTOMATION"] == "1"


def test_apply_streams_events_per_resource(terraform: Terraform) -> None:
    seen: list[Event] = []
    run = terraform.apply(on_event=seen.append)
    completed = sorted(event.address for event in seen if event.type == "apply_complete" and event.address)
    assert completed == [f"terraform_data.thing[{index}]" for index in range(3)]
    assert all(event.action == "create" for event in seen if event.type == "apply_complete")
    assert run.change_summary["add"] == 3
    assert run.events == seen
    assert terraform.output() == {"values": ["v1", "v1", "v1"]}
    assert sorted(terraform.state_list()) == [f"terraform_data.thing[{index}]" for index in range(3)]
    resources = terraform.state_resources()
    assert {resource["type"] for resource in resources} == {"terraform_data"}
    assert resources[0]["address"] == "terraform_data.thing[0]"
    assert resources[0]["values"]["id"]
    assert [resource["index"] for resource in resources] == [0, 1, 2]


def test_plan_detailed_exit_code(terraform: Terraform) -> None:
    assert terraform.plan().has_changes
    terraform.apply()
    assert not terraform.plan().has_changes
    (terraform.workdir / "main.tf.json").write_text(json.dumps(_config(3, "v2")))
    plan = terraform.plan()
    assert plan.has_changes
    assert sorted(address for address, _ in plan.planned) == [f"terraform_data.thing[{i}]" for i in range(3)]
    assert {action for _, action in plan.planned} == {"update"}
    assert plan.changed_outputs == ["values"]
    assert "terraform_data.thing[0] (update)" in plan.describe()
    assert plan.describe().endswith("output values")


def test_destroy_empties_state(terraform: Terraform) -> None:
    terraform.apply(parallelism=2)
    terraform.destroy()
    assert terraform.state_list() == []


def test_state_list_before_any_apply_is_empty(terraform: Terraform) -> None:
    assert terraform.state_list() == []


def test_errors_carry_terraform_diagnostics(terraform: Terraform) -> None:
    (terraform.workdir / "main.tf.json").write_text(
        json.dumps({"resource": {"terraform_data": {"bad": {"input": "${no_such_thing.x}"}}}})
    )
    with pytest.raises(TerraformError) as raised:
        terraform.plan()
    assert raised.value.command == "plan"
    assert raised.value.returncode == 1
    assert any("undeclared resource" in diag.summary.lower() for diag in raised.value.diagnostics)
    assert "Reference to undeclared resource" in str(raised.value)


def test_a_failing_callback_stops_terraform_and_state_stays_usable(terraform: Terraform) -> None:
    def stop(event: Event) -> None:
        if event.type == "apply_start":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        terraform.apply(on_event=stop, parallelism=1)
    # One interrupt is a graceful stop: what was created is in state, and the lock was released.
    assert terraform.state_list()
    terraform.apply()
    assert not terraform.plan().has_changes


def test_missing_binary_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        Terraform(tmp_path, tmp_path / "terraform.tfrc")
