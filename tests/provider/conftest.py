from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provider.acceptance import DemoService, Terraform, install_mirror


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for terraform: a CLI config in a temp work folder whose mirror holds our provider."""
    return install_mirror(tmp_path_factory.mktemp("work"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[DemoService]:
    demo = DemoService(log_dir=tmp_path)
    demo.start()
    yield demo
    demo.kill()


@pytest.fixture
def terraform(tmp_path: Path, terraform_env: dict[str, str]) -> Terraform:
    return Terraform(tmp_path / "config", terraform_env)
