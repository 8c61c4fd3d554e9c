"""The floor provider of `make bench-provider` (bench/noop_provider.py): a real provider Terraform applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import noop_provider
from bench.provider import config_for
from provider import ADDRESS, install_launcher, write_cli_config
from provider.acceptance import Terraform, install_mirror

pytestmark = [pytest.mark.terraform, pytest.mark.timeout(300)]


def test_noop_items_apply_and_destroy_with_the_item_schema(tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = install_mirror(work)
    install_launcher(work / "mirror", noop_provider.ADDRESS, noop_provider.VERSION, noop_provider.__name__)
    write_cli_config(work, [ADDRESS, noop_provider.ADDRESS])
    terraform = Terraform(tmp_path / "config", env)
    terraform.write(config_for("noop_item", 3, "http://127.0.0.1:9"))
    terraform.init()

    assert "Resources: 3 added" in terraform.apply("-parallelism=3").stdout
    state = json.loads((tmp_path / "config" / "terraform.tfstate").read_text())
    [resource] = state["resources"]
    attributes = [instance["attributes"] for instance in resource["instances"]]
    assert sorted(item["name"] for item in attributes) == ["item-0", "item-1", "item-2"]
    assert len({item["id"] for item in attributes}) == 3
    assert {item["created_at"] for item in attributes} == {noop_provider.CREATED_AT}
    assert all(item["description"] is None for item in attributes)

    assert "Resources: 3 destroyed" in terraform.destroy().stdout
