"""Acceptance-test helpers: a live demo service process and the real terraform, wired to our provider.

Used by tests/provider, the provider benchmark (bench/provider.py) and anyone who wants to run
the provider end to end. Never imported by the plugin itself.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from demo_app import ServiceExited, wait_healthy
from provider import ADDRESS, VERSION, install_launcher, write_cli_config
from provider._zygote import SETTINGS_PREFIX as ZYGOTE_SETTINGS

# Another build of the service can be tested by setting this to a command template with {port}.
SERVICE_COMMAND_ENV = "DEMOAPP_TEST_SERVICE_CMD"
DEFAULT_SERVICE_COMMAND = (
    f"{shlex.quote(str(Path(sys.executable).with_name('demo-app')))} serve --store memory "
    "--host 127.0.0.1 --port {port}"
)

REQUIRED_PROVIDERS = f"""terraform {{
  required_providers {{
    demoapp = {{
      source  = "{ADDRESS.removeprefix("registry.terraform.io/")}"
      version = "{VERSION}"
    }}
  }}
}}
"""


def provider_block(endpoint: str, retries: int = 2) -> str:
    return f'''provider "demoapp" {{
  endpoint = "{endpoint}"
  retries  = {retries}
}}
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DemoService:
    """A demo service process on 127.0.0.1 that can be killed and started again, empty, on its port."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        template = os.environ.get(SERVICE_COMMAND_ENV, DEFAULT_SERVICE_COMMAND)
        command = [*shlex.split(template.format(port=self.port)), *self.extra_args]
        log = self.log_dir / f"service-{self.port}.log"
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        process = self.process
        try:
            wait_healthy(self.url, timeout=timeout, is_alive=lambda: process.poll() is None)
        except (ServiceExited, TimeoutError) as exc:
            self.kill()
            raise RuntimeError(f"{exc}: see {log}") from exc

    def kill(self) -> None:
        """SIGKILL, like a crash: nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@dataclass
class Terraform:
    """The real terraform binary in one working directory, with the test's own CLI config."""

    workdir: Path
    env: Mapping[str, str]

    def write(self, config: str, name: str = "main.tf") -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / name).write_text(config)

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["terraform", *args],
            cwd=self.workdir,
            env={**self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"terraform {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self) -> None:
        self.run("init", "-input=false", "-no-color")

    def apply(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *args, check=check)

    def destroy(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", *args)

    def plan_exit_code(self, *args: str) -> tuple[int, str]:
        """0: no changes, 2: changes, 1: error (terraform plan -detailed-exitcode)."""
        result = self.run("plan", "-detailed-exitcode", "-input=false", "-no-color", *args, check=False)
        return result.returncode, result.stdout + result.stderr

    def state(self, address: str) -> dict[str, Any]:
        """The attributes of one resource in state, typed (null stays None), from `terraform show -json`."""
        shown = json.loads(self.run("show", "-json", "-no-color").stdout)
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        for resource in resources:
            if resource["address"] == address:
                values: dict[str, Any] = resource["values"]
                return values
        raise AssertionError(f"{address} is not in state: {[r['address'] for r in resources]}")


def install_mirror(work: Path) -> dict[str, str]:
    """Install our provider into `work/mirror`, write `work/terraform.tfrc`; return the env for terraform."""
    install_launcher(work / "mirror", ADDRESS, VERSION, "provider")
    config = write_cli_config(work, [ADDRESS])
    # The zygote's settings pass through (tests shorten its idle time); no other DEMOAPP_ setting does.
    env = {
        key: value
        for key, value in os.environ.items()
        if key.startswith(ZYGOTE_SETTINGS)
        or (not key.startswith(("TF_", "DEMOAPP_")) and key != "CHECKPOINT_DISABLE")
    }
    return {
        **env,
        "TF_CLI_CONFIG_FILE": str(config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }
