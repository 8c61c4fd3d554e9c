"""`demoapp doctor`: everything the demo needs, each problem with its fix."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from examples.harness import _docker, _providers
from examples.harness._errors import HarnessError
from examples.harness._terraform import Terraform, TerraformError
from provider._mirror import launcher_path
from provider.install import ADDRESS as DEMOAPP_ADDRESS
from provider.install import VERSION as DEMOAPP_VERSION

MIN_TERRAFORM = (1, 5)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _docker_checks(image: str, port: int, container_name: str) -> list[Check]:
    try:
        engine = _docker.client()
    except HarnessError as exc:
        return [Check("Docker engine", False, exc.message, exc.hint or "")]
    checks = [Check("Docker engine", True, f"Docker {engine.version().get('Version', '?')}")]
    if _docker.image_exists(engine, image):
        checks.append(Check("image", True, image))
    else:
        checks.append(Check("image", False, f"{image} is not built", "`make image`"))
    ours = _docker.find_container(engine, container_name)
    checks.append(_port_check(port, ours is not None and ours.status == "running"))
    return checks


def _port_check(port: int, demo_running: bool) -> Check:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        in_use = probe.connect_ex(("127.0.0.1", port)) == 0
    if not in_use:
        return Check(f"port {port}", True, "free on 127.0.0.1")
    if demo_running:
        return Check(f"port {port}", True, "used by the running demo")
    return Check(
        f"port {port}",
        False,
        "already in use on 127.0.0.1",
        f"stop what listens there (`ss -ltnp 'sport = :{port}'`) or use `demoapp up --port <other>`",
    )


def _terraform_check(work: Path) -> Check:
    try:
        terraform = Terraform(work, work / "terraform.tfrc")
        version = terraform.version()
    except FileNotFoundError:
        return Check(
            "terraform", False, "not on PATH", "install terraform >= 1.5 from releases.hashicorp.com"
        )
    except (TerraformError, OSError, ValueError) as exc:
        return Check("terraform", False, f"does not run: {exc}", "reinstall terraform")
    parts = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if parts < MIN_TERRAFORM:
        return Check("terraform", False, f"{version} is too old", "install terraform >= 1.5")
    return Check("terraform", True, version)


def _node_check() -> Check:
    node = shutil.which("node")
    if node is None:
        return Check(
            "node", False, "not on PATH (cdktf's jsii runs node)", "`apt-get install nodejs` (>= 18)"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return Check("node", True, version)


def _provider_checks(work: Path) -> list[Check]:
    launcher = launcher_path(work / "mirror", DEMOAPP_ADDRESS, DEMOAPP_VERSION)
    checks = [
        Check("demoapp provider", True, str(launcher))
        if launcher.is_file()
        else Check("demoapp provider", False, f"not installed in {work / 'mirror'}", "`make provider`")
    ]
    if _providers.mirror_has_real_providers(_providers.real_mirror(work)):
        checks.append(Check("docker/time/http providers", True, f"real, from {_providers.real_mirror(work)}"))
    elif _providers.registry_reachable():
        checks.append(Check("docker/time/http providers", True, "real, from registry.terraform.io"))
    else:
        try:
            from examples.standins import install  # noqa: F401  (only whether it loads)
        except ImportError as exc:
            checks.append(
                Check("docker/time/http providers", False, f"no registry, no mirror, stand-ins broken: {exc}")
            )
        else:
            checks.append(
                Check(
                    "docker/time/http providers",
                    True,
                    "OFFLINE STAND-INS (registry unreachable, no local mirror)",
                    "`demoapp mirror` while online to demo with the real providers",
                )
            )
    return checks


def run(work: Path, image: str, port: int, container_name: str) -> list[Check]:
    return [
        *_docker_checks(image, port, container_name),
        _terraform_check(work),
        _node_check(),
        *_provider_checks(work),
    ]
