"""Run the terraform CLI: init, plan, apply, destroy, output, show, with machine-readable progress.

Reused by the demo harness, the stress test and the chaos tests. Every run gets the same environment:
the work folder's CLI config (`TF_CLI_CONFIG_FILE`), `CHECKPOINT_DISABLE=1` and `TF_IN_AUTOMATION=1`,
so no run ever reads `~/.terraformrc` or phones home.

`plan`, `apply` and `destroy` run with `-json` and hand each UI event to an optional callback while
terraform runs (a progress display, or a chaos test that kills the container when a resource starts).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERRAFORM_ENV = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
# How long terraform may take to stop gracefully after an interrupt before it is killed.
STOP_TIMEOUT = 120


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def __str__(self) -> str:
        where = f" ({self.address})" if self.address else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.summary}{where}{detail}"


@dataclass(frozen=True)
class Event:
    """One line of terraform's `-json` UI output: `type` (e.g. apply_start, apply_complete,
    planned_change, change_summary, diagnostic), the resource address it concerns if any, and the raw
    message."""

    type: str
    address: str | None
    message: str
    raw: Mapping[str, Any]

    @property
    def action(self) -> str | None:
        section = self.raw.get("hook") or self.raw.get("change") or {}
        return section.get("action")

    @property
    def elapsed_seconds(self) -> float | None:
        return (self.raw.get("hook") or {}).get("elapsed_seconds")

    @classmethod
    def parse(cls, line: str) -> Event | None:
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(raw, dict):
            return None
        section = raw.get("hook") or raw.get("change") or {}
        address = (section.get("resource") or {}).get("addr")
        if address is None and isinstance(raw.get("diagnostic"), dict):
            address = raw["diagnostic"].get("address")
        return cls(
            type=str(raw.get("type", "")), address=address, message=str(raw.get("@message", "")), raw=raw
        )


EventHandler = Callable[[Event], None]


@dataclass
class RunResult:
    """What a `-json` run reported: its events, diagnostics, change counts and exit code."""

    command: str
    returncode: int
    seconds: float
    events: list[Event] = field(default_factory=list)
    stderr: str = ""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        found = []
        for event in self.events:
            if event.type != "diagnostic":
                continue
            diag = event.raw.get("diagnostic") or {}
            found.append(
                Diagnostic(
                    severity=diag.get("severity", "error"),
                    summary=diag.get("summary", event.message),
                    detail=diag.get("detail", ""),
                    address=diag.get("address"),
                )
            )
        return found

    @property
    def errors(self) -> list[Diagnostic]:
        return [diag for diag in self.diagnostics if diag.severity == "error"]

    @property
    def change_summary(self) -> dict[str, int]:
        """`{"add": n, "change": n, "remove": n, "import": n}` of the last change_summary event."""
        for event in reversed(self.events):
            if event.type == "change_summary":
                changes = event.raw.get("changes") or {}
                return {key: int(changes.get(key, 0)) for key in ("add", "change", "remove", "import")}
        return {"add": 0, "change": 0, "remove": 0, "import": 0}

    def addresses(self, event_type: str) -> list[str]:
        return [event.address for event in self.events if event.type == event_type and event.address]


class TerraformError(Exception):
    """A terraform command failed; the message is terraform's own error diagnostics."""

    def __init__(
        self, command: str, returncode: int, diagnostics: Sequence[Diagnostic], stderr: str = ""
    ) -> None:
        errors = [str(diag) for diag in diagnostics if diag.severity == "error"]
        reason = "; ".join(errors) or stderr.strip() or f"exit code {returncode}"
        super().__init__(f"terraform {command} failed: {reason}")
        self.command = command
        self.returncode = returncode
        self.diagnostics = list(diagnostics)
        self.stderr = stderr


@dataclass(frozen=True)
class PlanResult:
    has_changes: bool
    run: RunResult

    @property
    def planned(self) -> list[tuple[str, str]]:
        """(address, action) of every planned change."""
        return [
            (event.address, event.action or "?")
            for event in self.run.events
            if event.type == "planned_change" and event.address
        ]

    @property
    def changed_outputs(self) -> list[str]:
        """Outputs whose value the plan changes (these alone make `-detailed-exitcode` report changes)."""
        for event in reversed(self.run.events):
            if event.type == "outputs":
                outputs = event.raw.get("outputs") or {}
                return sorted(name for name, change in outputs.items() if change.get("action") != "noop")
        return []

    def describe(self) -> str:
        """One line for people: `none`, or each planned resource change and changed output."""
        changes = [f"{address} ({action})" for address, action in self.planned]
        changes += [f"output {name}" for name in self.changed_outputs]
        return ", ".join(changes) if self.has_changes else "none"

    @property
    def drifted(self) -> list[str]:
        return self.run.addresses("resource_drift")


def find_terraform() -> str | None:
    return shutil.which("terraform")


class Terraform:
    """terraform in one working folder, with a fixed CLI config and environment."""

    def __init__(
        self,
        workdir: Path,
        cli_config: Path,
        *,
        env: Mapping[str, str] | None = None,
        binary: str | None = None,
        timeout: float | None = 900,
    ) -> None:
        found = binary or find_terraform()
        if found is None:
            raise FileNotFoundError("terraform is not on PATH")
        self.binary = found
        self.workdir = workdir
        self.cli_config = cli_config
        self.timeout = timeout
        self._extra_env = dict(env or {})

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **TERRAFORM_ENV,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            **self._extra_env,
        }

    def _run_plain(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise TerraformError(
                args[0], completed.returncode, _diagnostics_from_text(completed), completed.stderr
            )
        return completed

    def _run_json(
        self,
        args: Sequence[str],
        on_event: EventHandler | None,
        *,
        ok_codes: tuple[int, ...] = (0,),
    ) -> RunResult:
        started = time.monotonic()
        result = RunResult(command=args[0], returncode=-1, seconds=0.0)
        with subprocess.Popen(
            [self.binary, *args, "-json"],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Its own session: a Ctrl-C at the terminal reaches only us, and we pass terraform exactly one
            # interrupt (a second one makes it exit at once, without writing state).
            start_new_session=True,
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            try:
                for line in process.stdout:
                    event = Event.parse(line)
                    if event is None:
                        continue
                    result.events.append(event)
                    if on_event is not None:
                        on_event(event)
                result.stderr = process.stderr.read()
                result.returncode = process.wait(timeout=self.timeout)
            except BaseException:
                # Ctrl-C or a failing callback: terraform stops gracefully, saves state, releases the lock.
                process.send_signal(signal.SIGINT)
                try:
                    process.communicate(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                raise
        result.seconds = time.monotonic() - started
        if result.returncode not in ok_codes:
            raise TerraformError(args[0], result.returncode, result.diagnostics, result.stderr)
        return result

    def version(self) -> str:
        completed = self._run_plain(["version", "-json"])
        return str(json.loads(completed.stdout)["terraform_version"])

    def init(self) -> RunResult:
        return self._run_json(["init", "-input=false"], None)

    def plan(self, *, on_event: EventHandler | None = None, refresh: bool = True) -> PlanResult:
        args = ["plan", "-input=false", "-lock-timeout=30s", "-detailed-exitcode"]
        if not refresh:
            args.append("-refresh=false")
        run = self._run_json(args, on_event, ok_codes=(0, 2))
        return PlanResult(has_changes=run.returncode == 2, run=run)

    def apply(
        self,
        *,
        on_event: EventHandler | None = None,
        parallelism: int | None = None,
        targets: Sequence[str] = (),
        extra_args: Sequence[str] = (),
    ) -> RunResult:
        args = ["apply", "-input=false", "-auto-approve", "-lock-timeout=30s"]
        if parallelism is not None:
            args.append(f"-parallelism={parallelism}")
        args.extend(f"-target={target}" for target in targets)
        return self._run_json([*args, *extra_args], on_event)

    def destroy(self, *, on_event: EventHandler | None = None, parallelism: int | None = None) -> RunResult:
        args = ["destroy", "-input=false", "-auto-approve", "-lock-timeout=30s"]
        if parallelism is not None:
            args.append(f"-parallelism={parallelism}")
        return self._run_json(args, on_event)

    def import_resource(self, address: str, resource_id: str) -> None:
        """Bring an existing object under `address` (`terraform import`, which has no `-json`)."""
        self._run_plain(["import", "-input=false", "-lock-timeout=30s", address, resource_id])

    def providers_mirror(self, target: Path, platform: str) -> None:
        """Download the providers this folder's config requires into `target` (needs the network)."""
        self._run_plain(["providers", "mirror", f"-platform={platform}", str(target)])

    def output(self) -> dict[str, Any]:
        """Every output's value (sensitive ones included)."""
        completed = self._run_plain(["output", "-json"])
        outputs = json.loads(completed.stdout or "{}")
        return {name: entry.get("value") for name, entry in outputs.items()}

    def pull_state(self) -> dict[str, Any]:
        """The raw state document (`terraform state pull`): no provider starts, unlike `show -json`."""
        return dict(json.loads(self._run_plain(["state", "pull"]).stdout or "{}"))

    def state_resources(self) -> list[dict[str, Any]]:
        """Every resource instance in state (root module), shaped as `terraform show -json` lists them:
        `address`, `mode`, `type`, `name`, `index` and `values`, the raw attributes from state (so an
        attribute of dynamic type keeps its `{"value", "type"}` wrapping)."""
        instances = []
        for resource in self.pull_state().get("resources") or []:
            if resource.get("module"):
                continue
            prefix = "data." if resource["mode"] == "data" else ""
            base = f"{prefix}{resource['type']}.{resource['name']}"
            for instance in resource.get("instances") or []:
                index = instance.get("index_key")
                suffix = "" if index is None else f"[{json.dumps(index)}]"
                instances.append(
                    {
                        "address": base + suffix,
                        "mode": resource["mode"],
                        "type": resource["type"],
                        "name": resource["name"],
                        "index": index,
                        "values": instance.get("attributes") or {},
                    }
                )
        return instances

    def state_list(self) -> list[str]:
        """Addresses of the managed resource instances in state (empty when there is no state yet)."""
        return [resource["address"] for resource in self.state_resources() if resource["mode"] == "managed"]


def _diagnostics_from_text(completed: subprocess.CompletedProcess[str]) -> list[Diagnostic]:
    """Turn terraform's human error box into one diagnostic (for commands without `-json`)."""
    lines = [line.strip(" │╷╵\t") for line in completed.stderr.splitlines()]
    text = " ".join(line for line in lines if line)
    if text.startswith("Error: "):
        text = text[len("Error: ") :]
    return [Diagnostic("error", text or f"exit code {completed.returncode}")]
