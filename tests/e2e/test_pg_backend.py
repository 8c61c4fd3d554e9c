"""`demoapp up --backend pg`: the demo's state lives in PostgreSQL (Terraform's pg backend), not on disk.

The test starts its own PostgreSQL 15 on 127.0.0.1 in a temporary folder, as the `postgres` user when run
as root (initdb refuses root).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from demo_run import DemoRun

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.terraform, pytest.mark.slow]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "demo"
SCHEMA = "demoapp"


def _as_pg_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@pytest.fixture(scope="module")
def postgres(free_port: Callable[[], int]) -> Iterator[str]:
    assert (PG_BIN / "initdb").is_file(), (
        f"PostgreSQL 15 is required at {PG_BIN} (apt-get install postgresql)"
    )
    owner = None
    folder = Path(tempfile.mkdtemp(prefix="demoapp-pg-"))
    if os.geteuid() == 0:
        owner = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(folder, owner)
    data = folder / "data"
    port = free_port()
    subprocess.run(
        _as_pg_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust"], owner),
        check=True,
        capture_output=True,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    subprocess.run(
        _as_pg_owner(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "log"),
                "-w",
                "start",
            ],
            owner,
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgres://{PG_USER}@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        subprocess.run(
            _as_pg_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _state_in_postgres(conn_str: str, workspace: str = "default") -> dict[str, Any]:
    """The workspace's state document, read straight from the backend's table with psql."""
    result = subprocess.run(
        ["psql", conn_str, "-At", "-v", f"workspace={workspace}", "-f", "-"],
        input=f"select data from {SCHEMA}.states where name = :'workspace';",
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip(), f"no state for workspace {workspace} in {SCHEMA}.states"
    return dict(json.loads(result.stdout))


def test_state_lives_in_postgres(
    postgres: str, demo_factory: Callable[[], DemoRun], docker_client: docker.DockerClient
) -> None:
    demo = demo_factory()
    demo.cli("up", "--backend", "pg", "--pg-conn-str", postgres)
    assert not (demo.work / "baseline" / "terraform.tfstate").exists(), "state must not be on disk"
    resources = _state_in_postgres(postgres)["resources"]
    types = sorted({resource["type"] for resource in resources if resource["mode"] == "managed"})
    assert types == ["demoapp_display", "demoapp_item", "docker_container", "docker_image", "time_sleep"]
    assert not demo.terraform().plan().has_changes

    demo.cli("down")
    assert _state_in_postgres(postgres)["resources"] == []
    assert not [c for c in docker_client.containers.list(all=True) if c.name == demo.container]
