"""Acceptance: real terraform 1.11 against a live demo service, through the filesystem mirror. No mocks."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform, free_port, provider_block

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def configure(terraform: Terraform, endpoint: str, body: str, retries: int = 2) -> None:
    terraform.write(REQUIRED_PROVIDERS + provider_block(endpoint, retries) + body)


ITEMS = """
resource "demoapp_item" "described" {
  name        = "%s"
  description = "has a description"
}

resource "demoapp_item" "bare" {
  name = "no description"
}
"""


def test_item_create_update_import_destroy(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, ITEMS % "first name")
    terraform.init()
    terraform.apply()
    described = terraform.state("demoapp_item.described")
    bare = terraform.state("demoapp_item.bare")
    with service.api() as api:
        assert api.get(f"/api/items/{described['id']}").json()["description"] == "has a description"
        assert api.get(f"/api/items/{bare['id']}").json()["description"] is None
    assert bare["description"] is None, 'null in state, never ""'
    assert terraform.plan_exit_code()[0] == 0, "an unset description must not cause a perpetual diff"

    configure(terraform, service.url, ITEMS % "renamed")
    code, plan = terraform.plan_exit_code()
    assert code == 2 and "Plan: 0 to add, 1 to change, 0 to destroy." in plan
    terraform.apply()
    assert terraform.state("demoapp_item.described")["id"] == described["id"], "updated in place"
    with service.api() as api:
        assert api.get(f"/api/items/{described['id']}").json()["name"] == "renamed"

    # Import the item into a second configuration.
    importer = Terraform(terraform.workdir.parent / "importer", terraform.env)
    importer.write(
        REQUIRED_PROVIDERS
        + provider_block(service.url)
        + 'resource "demoapp_item" "adopted" {\n  name = "no description"\n}\n'
    )
    importer.init()
    importer.run("import", "-no-color", "demoapp_item.adopted", bare["id"])
    adopted = importer.state("demoapp_item.adopted")
    assert adopted["id"] == bare["id"] and adopted["created_at"] == bare["created_at"]
    assert importer.plan_exit_code()[0] == 0

    terraform.destroy()
    with service.api() as api:
        assert api.get("/api/items").json() == []


def test_item_import_of_unknown_id_is_a_diagnostic(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, 'resource "demoapp_item" "x" {\n  name = "x"\n}\n')
    terraform.init()
    result = terraform.run("import", "-no-color", "demoapp_item.x", "424242", check=False)
    assert result.returncode == 1 and "no item with id 424242" in result.stderr
    result = terraform.run("import", "-no-color", "demoapp_item.x", "abc", check=False)
    assert result.returncode == 1 and "An item id is an integer" in result.stderr


def test_item_deleted_outside_terraform_is_created_again(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, 'resource "demoapp_item" "x" {\n  name = "x"\n}\n')
    terraform.init()
    terraform.apply()
    first_id = terraform.state("demoapp_item.x")["id"]
    with service.api() as api:
        assert api.delete(f"/api/items/{first_id}").status_code == 204
    code, plan = terraform.plan_exit_code()
    assert code == 2 and "Plan: 1 to add, 0 to change, 0 to destroy." in plan
    terraform.apply()
    assert terraform.state("demoapp_item.x")["id"] != first_id


DISPLAY = """
resource "demoapp_display" "board" {
  data = %s
}
"""


def test_display_semantic_json_import_and_destroy(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, DISPLAY % 'jsonencode({ b = [1, 2], a = "x" })')
    terraform.init()
    terraform.apply()
    with service.api() as api:
        stored = api.get("/api/display")
    assert stored.text == '{"a":"x","b":[1,2]}' and "ETag" in stored.headers

    # The same document with other key order and whitespace: no diff.
    configure(terraform, service.url, DISPLAY % '<<-EOT\n    { "b": [1,  2],\n      "a": "x" }\n  EOT')
    assert terraform.plan_exit_code()[0] == 0
    # A different document: an in-place update.
    configure(terraform, service.url, DISPLAY % 'jsonencode({ a = "y" })')
    code, plan = terraform.plan_exit_code()
    assert code == 2 and "Plan: 0 to add, 1 to change, 0 to destroy." in plan
    terraform.apply()
    with service.api() as api:
        assert api.get("/api/display").json() == {"a": "y"}

    importer = Terraform(terraform.workdir.parent / "importer", terraform.env)
    importer.write(REQUIRED_PROVIDERS + provider_block(service.url) + DISPLAY % 'jsonencode({ a = "y" })')
    importer.init()
    importer.run("import", "-no-color", "demoapp_display.board", "display")
    assert importer.plan_exit_code()[0] == 0

    terraform.destroy()
    with service.api() as api:
        cleared = api.get("/api/display")
    assert cleared.json() == {} and "ETag" not in cleared.headers


def test_invalid_json_is_a_plan_time_diagnostic_on_data(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, DISPLAY % '"{not json"')
    terraform.init()
    code, output = terraform.plan_exit_code()
    assert code == 1
    assert "Error: Invalid JSON in data" in output
    assert "with demoapp_display.board," in output and "data = " in output, "diagnostic points at data"
    assert "Plugin error" not in output


def test_dead_endpoint_gives_one_clear_diagnostic_per_operation(terraform: Terraform) -> None:
    dead = f"http://127.0.0.1:{free_port()}"

    def errors_of(body: str, expected: int) -> None:
        configure(terraform, dead, body, retries=1)
        result = terraform.apply(check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 1
        errors = re.findall(r"Error: (.*)", output)
        assert len(errors) == expected, output
        assert all(f"demoapp service unreachable at {dead}" in error for error in errors), errors
        assert output.count(f"{dead}/api/") == expected, "each diagnostic names the URL it tried"
        assert "Plugin error" not in output and "Traceback" not in output

    terraform.write(REQUIRED_PROVIDERS)
    terraform.init()
    # Creates fail at apply, each on its own; a data source read fails the plan.
    two_creates = 'resource "demoapp_item" "a" {\n  name = "a"\n}\n'
    two_creates += 'resource "demoapp_display" "d" {\n  data = "{}"\n}\n'
    errors_of(two_creates, 2)
    errors_of('data "demoapp_system" "s" {}\n', 1)


@pytest.mark.parametrize(
    ("endpoint_line", "message"),
    [("", "Missing demoapp endpoint"), ('  endpoint = "ftp://127.0.0.1:1"\n', "Invalid demoapp endpoint")],
)
def test_missing_or_malformed_endpoint_is_a_diagnostic_on_endpoint(
    terraform: Terraform, endpoint_line: str, message: str
) -> None:
    terraform.write(
        REQUIRED_PROVIDERS
        + f'provider "demoapp" {{\n{endpoint_line}}}\n'
        + 'resource "demoapp_item" "a" {\n  name = "a"\n}\n'
    )
    terraform.init()
    code, output = terraform.plan_exit_code()
    assert code == 1 and f"Error: {message}" in output
    assert 'provider "demoapp"' in output, "the diagnostic points at the provider block"


def test_endpoint_falls_back_to_environment(terraform: Terraform, service: DemoService) -> None:
    terraform.write(REQUIRED_PROVIDERS + 'resource "demoapp_item" "a" {\n  name = "from env"\n}\n')
    terraform = Terraform(terraform.workdir, {**terraform.env, "DEMOAPP_ENDPOINT": service.url})
    terraform.init()
    terraform.apply()
    with service.api() as api:
        assert [item["name"] for item in api.get("/api/items").json()] == ["from env"]


CRASH_CONFIG = """
resource "demoapp_display" "board" {
  data = jsonencode({ source = "acceptance", captured_at = timestamp(), nested = { list = [1, 2, 3] } })
  lifecycle {
    ignore_changes = [data]
  }
}

resource "demoapp_item" "kept" {
  count       = 3
  name        = "kept-${count.index}"
  description = count.index == 0 ? null : "item ${count.index}"
}
"""


def test_crash_restore_of_display_and_items(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, CRASH_CONFIG, retries=5)
    terraform.init()
    terraform.apply()
    with service.api() as api:
        before = api.get("/api/display").text
        items_before = {(i["name"], i["description"]) for i in api.get("/api/items").json()}
    assert json.loads(before)["captured_at"]
    assert len(items_before) == 3

    service.kill()
    service.start()  # empty: memory store
    with service.api() as api:
        assert api.get("/api/items").json() == []

    restore = terraform.apply()  # one apply restores: items created again, the display updated in place
    assert "Resources: 3 added, 1 changed, 0 destroyed." in restore.stdout
    with service.api() as api:
        assert api.get("/api/display").text == before, "the exact payload, same captured_at, byte for byte"
        items_after = {(i["name"], i["description"]) for i in api.get("/api/items").json()}
    assert items_after == items_before
    code, plan = terraform.plan_exit_code()
    assert code == 0, plan


def test_display_edited_outside_terraform_is_put_back(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, CRASH_CONFIG)
    terraform.init()
    terraform.apply()
    with service.api() as api:
        before = api.get("/api/display").text
        api.put("/api/display", content=b'{"edited": "in the page"}')
    terraform.apply()
    with service.api() as api:
        assert api.get("/api/display").text == before
    assert terraform.plan_exit_code()[0] == 0


def test_hundred_items_at_parallelism_50(terraform: Terraform, service: DemoService) -> None:
    configure(
        terraform,
        service.url,
        'resource "demoapp_item" "many" {\n  count = 100\n  name  = "item-${count.index}"\n}\n'
        'output "ids" {\n  value = demoapp_item.many[*].id\n}\n',
    )
    terraform.init()
    result = terraform.apply("-parallelism=50")
    assert "Apply complete! Resources: 100 added, 0 changed, 0 destroyed." in result.stdout
    ids = json.loads(terraform.run("output", "-json", "ids").stdout)
    assert len(set(ids)) == 100
    with service.api() as api:
        served = api.get("/api/items").json()
    assert sorted(str(item["id"]) for item in served) == sorted(ids)
    terraform.destroy("-parallelism=50")
    with service.api() as api:
        assert api.get("/api/items").json() == []


def test_first_apply_waits_for_a_booting_service(terraform: Terraform, tmp_path: Path) -> None:
    """The service comes up only after terraform has started applying: retries with backoff bridge it."""
    booting = DemoService(log_dir=tmp_path)
    configure(terraform, booting.url, 'resource "demoapp_item" "early" {\n  name = "early"\n}\n', retries=8)
    terraform.init()
    apply = subprocess.Popen(
        ["terraform", "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=terraform.workdir,
        env=dict(terraform.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        time.sleep(1.5)
        assert apply.poll() is None, "apply must still be retrying"
        booting.start()
        output, _ = apply.communicate(timeout=120)
        assert apply.returncode == 0, output
        with booting.api() as api:
            assert [item["name"] for item in api.get("/api/items").json()] == ["early"]
    finally:
        apply.kill()
        booting.kill()


def test_token_is_sent_and_a_wrong_one_is_a_diagnostic(terraform: Terraform, tmp_path: Path) -> None:
    guarded = DemoService(log_dir=tmp_path, extra_args=("--token", "s3cret"))
    guarded.start()
    try:
        item = 'resource "demoapp_item" "guarded" {\n  name = "guarded"\n}\n'
        terraform.write(
            REQUIRED_PROVIDERS
            + f'provider "demoapp" {{\n  endpoint = "{guarded.url}"\n  token = "wrong"\n  retries = 0\n}}\n'
            + item
        )
        terraform.init()
        result = terraform.apply(check=False)
        assert result.returncode == 1 and "401" in result.stderr and "unauthorized" in result.stderr
        assert "wrong" not in result.stdout + result.stderr, "the token is never shown"
        terraform = Terraform(terraform.workdir, {**terraform.env, "DEMOAPP_TOKEN": "s3cret"})
        terraform.write(REQUIRED_PROVIDERS + provider_block(guarded.url) + item)
        terraform.apply()
        with guarded.api() as api:
            listed = api.get("/api/items", headers={"Authorization": "Bearer s3cret"}).json()
        assert [entry["name"] for entry in listed] == ["guarded"]
    finally:
        guarded.kill()


DATA_SOURCES = """
resource "demoapp_item" "pick" {
  count       = 3
  name        = count.index == 0 ? "other" : "picked"
  description = count.index == 2 ? "two" : null
}

resource "demoapp_display" "board" {
  data = jsonencode({ shown = true })
}

data "demoapp_system" "this" {}

data "demoapp_items" "picked" {
  name       = "picked"
  depends_on = [demoapp_item.pick]
}

data "demoapp_items" "all" {
  depends_on = [demoapp_item.pick]
}

data "demoapp_display" "now" {
  depends_on = [demoapp_display.board]
}

output "system" {
  value = data.demoapp_system.this
}

output "picked" {
  value = data.demoapp_items.picked.items
}

output "all_count" {
  value = length(data.demoapp_items.all.items)
}

output "display" {
  value = data.demoapp_display.now
}
"""


def test_data_sources(terraform: Terraform, service: DemoService) -> None:
    configure(terraform, service.url, DATA_SOURCES)
    terraform.init()
    terraform.apply()
    outputs = json.loads(terraform.run("output", "-json").stdout)
    system = outputs["system"]["value"]
    with service.api() as api:
        served_system = api.get("/api/system").json()
    assert system["hostname"] == served_system["hostname"] and system["hostname"]
    assert system["user_agent"].startswith("terraform-provider-demoapp/")
    assert "authorization" not in {key.lower() for key in system["headers"]}
    picked = outputs["picked"]["value"]
    assert [item["name"] for item in picked] == ["picked", "picked"]
    # Created in parallel, so which of the two got the lower id varies; the list is in id order.
    assert {item["description"] for item in picked} == {None, "two"}
    assert [int(item["id"]) for item in picked] == sorted(int(item["id"]) for item in picked)
    assert outputs["all_count"]["value"] == 3
    display = outputs["display"]["value"]
    assert display["is_set"] is True and json.loads(display["data"]) == {"shown": True}
    assert display["hash"] == terraform.state("demoapp_display.board")["live_hash"]
