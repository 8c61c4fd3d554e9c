"""The provider docs: tables generated from the schemas are fresh, and every page's example applies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform
from provider.docs import DOCS, PAGES, main, stale_pages


def test_generated_tables_are_fresh() -> None:
    assert stale_pages(write=False) == [], "run `python -m provider.docs`"
    assert main(["--check"]) == 0


def test_every_attribute_has_a_description() -> None:
    for page in PAGES:
        assert page.schema.description, page.path
        for attribute in page.schema.attributes:
            assert attribute.description, f"{page.path}: {attribute.name}"


def test_check_notices_a_stale_page(tmp_path: Path) -> None:
    for page in PAGES:
        target = tmp_path / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((DOCS / page.path).read_text().replace("| required |", "| optional |"))
    assert stale_pages(tmp_path, write=False)


def example_of(page: str) -> str:
    text = (DOCS / page).read_text()
    match = re.search(r"## Example\n\n```hcl\n(.*?)```", text, re.S)
    assert match, f"{page} has no ## Example hcl block"
    return match.group(1)


@pytest.mark.terraform
@pytest.mark.parametrize("page", [page.path for page in PAGES])
def test_example_applies(page: str, terraform: Terraform, service: DemoService) -> None:
    example = example_of(page)
    if "required_providers" in example:
        example = example.replace("http://127.0.0.1:8080", service.url)
    else:
        example = REQUIRED_PROVIDERS + example
    terraform = Terraform(terraform.workdir, {**terraform.env, "DEMOAPP_ENDPOINT": service.url})
    terraform.write(example)
    terraform.init()
    terraform.apply()
    assert terraform.plan_exit_code()[0] == 0
    terraform.destroy()
