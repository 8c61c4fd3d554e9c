"""The stand-ins under real terraform 1.11 and the real Docker engine.

A hand-written configuration like the baseline's: image, container published on 127.0.0.1 with a
healthcheck and wait = true, time_sleep triggered by the container id, and data "http" on the
container's published port. Then the container is killed, removed, updated and replaced, and destroy
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from examples.standins import ADDRESSES, STANDINS, install
from provider.install import write_cli_config

pytestmark = [pytest.mark.terraform, pytest.mark.docker, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[3]
TEST_IMAGE = "demoapp-standin-test:latest"
# A stand-in for the service, so these tests do not depend on the state of demo_app: /health and
# /api/system answer JSON, as the baseline's healthcheck and data "http" expect.
SERVER = """\
import http.server, json, socket

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok"} if self.path == "/health" else {"hostname": socket.gethostname()})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""
PROBE = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=1)"
HEALTHCHECK = {"test": ["CMD", "python3", "-c", PROBE], "interval": "1s", "timeout": "2s", "retries": 20}


@dataclass
class Workspace:
    folder: Path
    env: dict[str, str]

    def terraform(self, *args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode in expect, f"terraform {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def write_config(self, config: dict) -> None:
        (self.folder / "main.tf.json").write_text(json.dumps(config, indent=2))

    def outputs(self) -> dict:
        raw = json.loads(self.terraform("output", "-json").stdout)
        return {name: value["value"] for name, value in raw.items()}


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient, work_dir: Path) -> str:
    """A tiny image FROM the project's base image (built offline by scripts/ensure-base-image.sh)."""
    env = {**os.environ, "DEMOAPP_WORK": str(work_dir)}
    result = subprocess.run(
        ["scripts/ensure-base-image.sh"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/ensure-base-image.sh failed:\n{result.stderr[-3000:]}")
    base = (work_dir / "base-image" / "chosen").read_text().strip()
    dockerfile = (
        f'FROM {base}\nCOPY server.py /srv/server.py\nUSER 10001:10001\nCMD ["python3", "/srv/server.py"]\n'
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, text in (("Dockerfile", dockerfile), ("server.py", SERVER)):
            member = tarfile.TarInfo(name)
            member.size = len(text.encode())
            archive.addfile(member, io.BytesIO(text.encode()))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=TEST_IMAGE, pull=False, rm=True)
    return TEST_IMAGE


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH; the stand-in tests need terraform 1.11")
    work = tmp_path / "work"
    install(work / "mirror")
    cli_config = write_cli_config(work, ADDRESSES)
    folder = tmp_path / "config"
    folder.mkdir()
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }
    env.pop("TF_DATA_DIR", None)
    return Workspace(folder, env)


@pytest.fixture
def container_name(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"standin-test-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(NotFound):
        docker_client.containers.get(name).remove(force=True)


def baseline_like(image: str, name: str, restart: str | None = None, healthcheck: dict = HEALTHCHECK) -> dict:
    container: dict = {
        "name": name,
        "image": "${docker_image.app.image_id}",
        "ports": [{"internal": 8080, "ip": "127.0.0.1"}],
        "env": ["GREETING=hello"],
        "healthcheck": healthcheck,
        "wait": True,
        "wait_timeout": 90,
    }
    if restart:
        container["restart"] = restart
    return {
        "terraform": {
            "required_providers": {
                "docker": {"source": "kreuzwerker/docker", "version": "3.6.2"},
                "time": {"source": "hashicorp/time", "version": "0.13.1"},
                # cdktf writes the http source in its short form.
                "http": {"source": "http", "version": "3.5.0"},
            }
        },
        "provider": {"docker": [{}], "time": [{}], "http": [{}]},
        "resource": {
            "docker_image": {"app": {"name": image, "keep_locally": True}},
            "docker_container": {"app": container},
            "time_sleep": {
                "settle": {
                    "create_duration": "1s",
                    "triggers": {"container_id": "${docker_container.app.id}"},
                    "depends_on": ["docker_container.app"],
                }
            },
        },
        "data": {
            "http": {
                "system": {
                    "url": "http://127.0.0.1:${docker_container.app.ports[0].external}/api/system",
                    "retry": {"attempts": 10, "min_delay_ms": 200, "max_delay_ms": 1000},
                    "depends_on": ["time_sleep.settle"],
                }
            }
        },
        "output": {
            "container_id": {"value": "${docker_container.app.id}"},
            "port": {"value": "${docker_container.app.ports[0].external}"},
            "status_code": {"value": "${data.http.system.status_code}"},
            "system": {"value": "${data.http.system.response_body}"},
        },
    }


def test_baseline_chain_lifecycle_against_the_engine(
    workspace: Workspace, docker_client: docker.DockerClient, test_image: str, container_name: str
) -> None:
    workspace.write_config(baseline_like(test_image, container_name))
    workspace.terraform("init", "-input=false")

    applied = workspace.terraform("apply", "-auto-approve", "-input=false")
    for standin in STANDINS:
        assert standin.label in applied.stdout + applied.stderr
    outputs = workspace.outputs()
    assert outputs["status_code"] == 200
    assert "hostname" in json.loads(outputs["system"])
    container = docker_client.containers.get(container_name)
    assert container.id == outputs["container_id"]
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    bindings = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"]
    assert [(b["HostIp"], int(b["HostPort"])) for b in bindings] == [("127.0.0.1", outputs["port"])]
    workspace.terraform("plan", "-detailed-exitcode", "-input=false")

    # Killed: the refresh removes the stopped container (must_run) and the plan creates it again.
    container.kill()
    planned = workspace.terraform("plan", "-detailed-exitcode", "-input=false", expect=(2,))
    assert f"Container {container_name} was not running; removed it" in planned.stdout + planned.stderr
    workspace.terraform("apply", "-auto-approve", "-input=false")
    recreated = workspace.outputs()
    assert recreated["container_id"] != outputs["container_id"] and recreated["status_code"] == 200
    assert docker_client.containers.get(container_name).id == recreated["container_id"]
    workspace.terraform("plan", "-detailed-exitcode", "-input=false")

    # Removed behind Terraform's back: gone from state, created again.
    docker_client.containers.get(container_name).remove(force=True)
    workspace.terraform("apply", "-auto-approve", "-input=false")
    again = workspace.outputs()
    assert (
        docker_client.containers.get(container_name).id == again["container_id"] != recreated["container_id"]
    )

    # restart changes in place: the same container, a new policy.
    workspace.write_config(baseline_like(test_image, container_name, restart="unless-stopped"))
    updated = workspace.terraform("apply", "-auto-approve", "-input=false")
    assert "1 changed, 0 destroyed" in updated.stdout
    container = docker_client.containers.get(container_name)
    assert container.id == again["container_id"]
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    workspace.terraform("plan", "-detailed-exitcode", "-input=false")

    # A healthcheck edit replaces the container (ForceNew on the block).
    slower = {**HEALTHCHECK, "interval": "2s"}
    workspace.write_config(baseline_like(test_image, container_name, "unless-stopped", slower))
    planned = workspace.terraform("plan", "-input=false")
    assert "healthcheck { # forces replacement" in planned.stdout
    workspace.terraform("apply", "-auto-approve", "-input=false")
    replaced = docker_client.containers.get(container_name)
    assert replaced.id == workspace.outputs()["container_id"] != again["container_id"]
    assert replaced.attrs["Config"]["Healthcheck"]["Interval"] == 2_000_000_000

    workspace.terraform("destroy", "-auto-approve", "-input=false")
    with pytest.raises(NotFound):
        docker_client.containers.get(container_name)
    docker_client.images.get(test_image)  # keep_locally
    state = json.loads((workspace.folder / "terraform.tfstate").read_text())
    assert state["resources"] == []


def test_a_missing_image_fails_with_a_hint_and_never_pulls(workspace: Workspace, container_name: str) -> None:
    config = baseline_like(f"standin-absent-{uuid.uuid4().hex[:8]}:none", container_name)
    workspace.write_config(config)
    workspace.terraform("init", "-input=false")
    result = workspace.terraform("apply", "-auto-approve", "-input=false", expect=(1,))
    message = " ".join(result.stderr.split())  # terraform wraps diagnostics at 78 columns
    assert "is not on the Docker engine" in message
    assert "never pulls" in message
    assert "Traceback" not in result.stdout + result.stderr


def test_import_an_existing_container(
    workspace: Workspace, docker_client: docker.DockerClient, test_image: str, container_name: str
) -> None:
    docker_client.containers.run(
        test_image, name=container_name, detach=True, ports={"8080/tcp": ("127.0.0.1", None)}
    )
    config = baseline_like(test_image, container_name)
    config["resource"] = {"docker_container": {"app": {"name": container_name, "image": test_image}}}
    del config["data"], config["output"]
    workspace.write_config(config)
    workspace.terraform("init", "-input=false")
    workspace.terraform("import", "-input=false", "docker_container.app", container_name)
    shown = json.loads(workspace.terraform("show", "-json").stdout)
    (resource,) = shown["values"]["root_module"]["resources"]
    assert resource["values"]["name"] == container_name
    assert resource["values"]["id"] == docker_client.containers.get(container_name).id
    assert resource["values"]["ports"][0]["ip"] == "127.0.0.1"


def test_an_unhealthy_container_fails_wait_and_is_tainted_not_orphaned(
    workspace: Workspace, docker_client: docker.DockerClient, test_image: str, container_name: str
) -> None:
    failing = {"test": ["CMD", "false"], "interval": "1s", "timeout": "1s", "retries": 1}
    workspace.write_config(baseline_like(test_image, container_name, healthcheck=failing))
    workspace.terraform("init", "-input=false")
    result = workspace.terraform("apply", "-auto-approve", "-input=false", expect=(1,))
    assert f"Container {container_name} did not become healthy" in result.stderr
    assert "'unhealthy'" in result.stderr
    shown = json.loads(workspace.terraform("show", "-json").stdout)
    (container,) = [r for r in shown["values"]["root_module"]["resources"] if r["type"] == "docker_container"]
    assert container["tainted"] is True
    assert container["values"]["id"] == docker_client.containers.get(container_name).id
    workspace.terraform("destroy", "-auto-approve", "-input=false")
    with pytest.raises(NotFound):
        docker_client.containers.get(container_name)
