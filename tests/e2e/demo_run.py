"""A demo under test, driven through the Makefile and the CLI, inspected without the harness's own checks."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from examples.harness import Terraform, TerraformError

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKE_TIMEOUT = 900


@dataclass
class DemoRun:
    """One demo under test: its work folder, port and container, and ways to drive and inspect it."""

    work: Path
    port: int
    container: str
    image: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DEMOAPP_DEMO_PORT": str(self.port),
            "DEMOAPP_CONTAINER": self.container,
            "DEMOAPP_PROVIDERS": "standins",
        }

    def make(self, target: str, *variables: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["make", "--no-print-directory", target, f"WORK={self.work}", f"IMAGE={self.image}", *variables],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"make {target} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(REPO_ROOT / ".venv/bin/demoapp"), "--work", str(self.work), *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"demoapp {args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def terraform(self) -> Terraform:
        return Terraform(self.work / "baseline" / "standins", self.work / "terraform.tfrc")

    def has_resources(self) -> bool:
        """Whether the demo's state (local or pg) still holds anything; unknown counts as yes."""
        if not (self.work / "baseline" / "settings.json").exists():
            return False
        try:
            return bool(self.terraform().state_list())
        except (TerraformError, OSError):
            return True

    def state(self) -> dict[str, Any]:
        """The local state file itself, read without terraform."""
        return dict(json.loads((self.work / "baseline" / "terraform.tfstate").read_text()))

    def state_instances(self, resource_type: str) -> list[dict[str, Any]]:
        return [
            instance["attributes"]
            for resource in self.state()["resources"]
            if resource["type"] == resource_type and resource["mode"] == "managed"
            for instance in resource["instances"]
        ]

    def state_display(self) -> str:
        (display,) = self.state_instances("demoapp_display")
        return str(display["data"])

    def state_items(self) -> dict[str, str]:
        return {item["id"]: item["name"] for item in self.state_instances("demoapp_item")}

    def live_display(self) -> bytes:
        response = httpx.get(f"{self.url}/api/display", timeout=10)
        assert response.status_code == 200
        return response.content

    def live_items(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/items", timeout=10)
        assert response.status_code == 200
        return list(response.json())
