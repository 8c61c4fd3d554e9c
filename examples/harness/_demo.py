"""The baseline demo's life cycle: up, status, crash, recover, plan, down, and checking what the page shows.

Settings of the last `up` are kept in `<work>/baseline/settings.json`, so `crash`, `recover`, `status` and
`down` act on the same port, container and backend without repeating the flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from examples.baseline import LOCAL_STATE_PATH, BaselineSettings, item_names, synthesize
from examples.harness import _docker, _providers, _repair
from examples.harness._errors import HarnessError
from examples.harness._progress import step
from examples.harness._terraform import PlanResult, Terraform, TerraformError

HTTP_TIMEOUT = 10.0
CONTAINER_ADDRESS = "docker_container.container"
LOCK_FILE = ".terraform.lock.hcl"
CHECKSUM_MISMATCH = "doesn't match any of the checksums"


@dataclass(frozen=True)
class Workspace:
    """The demo's files inside the work folder."""

    root: Path

    @property
    def baseline(self) -> Path:
        return self.root / "baseline"

    @property
    def settings_file(self) -> Path:
        return self.baseline / "settings.json"

    @property
    def image_tarball(self) -> Path:
        return self.root / "image.tar"

    def config_folder(self, source: _providers.Source) -> Path:
        return self.baseline / source.folder

    def save(self, settings: BaselineSettings, source: _providers.Source) -> None:
        self.baseline.mkdir(parents=True, exist_ok=True)
        document = {**settings.to_json(), "providers": source.name}
        self.settings_file.write_text(json.dumps(document, indent=2) + "\n")

    def load(self) -> tuple[BaselineSettings, _providers.Source]:
        try:
            document = json.loads(self.settings_file.read_text())
        except FileNotFoundError:
            raise HarnessError(f"no demo was started in {self.root}", "start it with `make demo`") from None
        except json.JSONDecodeError as exc:
            raise HarnessError(
                f"{self.settings_file} is not valid JSON ({exc})", "run `make demo` again"
            ) from exc
        source = _providers.Source[document.pop("providers", "STANDINS")]
        return BaselineSettings.from_json(document), source


@dataclass
class Verification:
    """What the live service shows, compared with Terraform's state."""

    display_matches: bool = False
    display_captured_at: str | None = None
    items_in_state: int = 0
    items_missing: list[str] = field(default_factory=list)
    items_extra: list[str] = field(default_factory=list)
    page_ok: bool = False

    @classmethod
    def compare(
        cls,
        resources: list[dict[str, Any]],
        display_body: bytes | None,
        live_items: list[dict[str, Any]],
        *,
        page_ok: bool,
    ) -> Verification:
        """`resources`: state as `terraform show -json` lists it; the rest: what the service answered."""
        managed = [resource for resource in resources if resource.get("mode") == "managed"]
        display_state = next((r["values"] for r in managed if r["type"] == "demoapp_display"), None)
        items_state = {r["values"]["id"]: r["values"]["name"] for r in managed if r["type"] == "demoapp_item"}
        live = {str(item["id"]): item["name"] for item in live_items}
        result = cls(items_in_state=len(items_state), page_ok=page_ok)
        if display_state is not None:
            data = str(display_state["data"])
            # Byte for byte: the service keeps the document exactly as the provider sent it.
            result.display_matches = display_body == data.encode()
            try:
                result.display_captured_at = json.loads(data).get("captured_at")
            except (ValueError, AttributeError):
                result.display_captured_at = None
        result.items_missing = sorted(
            f"{item_id} ({name})" for item_id, name in items_state.items() if live.get(item_id) != name
        )
        result.items_extra = sorted(
            f"{item_id} ({name})" for item_id, name in live.items() if item_id not in items_state
        )
        return result

    @property
    def ok(self) -> bool:
        return self.display_matches and not self.items_missing and not self.items_extra and self.page_ok

    def problems(self) -> list[str]:
        found = []
        if not self.display_matches:
            found.append("the display differs from the payload in state")
        if self.items_missing:
            found.append(f"items missing from the service: {', '.join(self.items_missing)}")
        if self.items_extra:
            found.append(f"items on the service that state does not know: {', '.join(self.items_extra)}")
        if not self.page_ok:
            found.append("the page did not load")
        return found


def prefer_for(source: _providers.Source) -> str:
    return "standins" if source is _providers.Source.STANDINS else "real"


class Demo:
    """One baseline demo in a work folder."""

    def __init__(self, work: Path, console: Console) -> None:
        self.workspace = Workspace(work.resolve())
        self.console = console

    # -- set-up ---------------------------------------------------------------------------------------
    def _choose_providers(self, prefer: str) -> _providers.Choice:
        try:
            choice = _providers.choose(self.workspace.root, prefer)
        except LookupError as exc:
            raise HarnessError(
                str(exc), "run `demoapp mirror` once while online, or use --providers auto"
            ) from exc
        except ImportError as exc:
            raise HarnessError(
                f"the offline stand-ins cannot be loaded ({exc})", "check examples/standins"
            ) from exc
        if choice.is_standin:
            self.console.print(
                f"[bold yellow]Using OFFLINE STAND-INS[/] for kreuzwerker/docker, hashicorp/time and "
                f"hashicorp/http ({choice.reason}). Run `demoapp mirror` while online to use the real ones."
            )
        else:
            self.console.print(f"Providers: {choice.source.value} ({choice.reason}).")
        return choice

    def _terraform(self, settings: BaselineSettings, choice: _providers.Choice) -> Terraform:
        """Synthesize (always: the config follows the settings and this code) and init."""
        folder = self.workspace.config_folder(choice.source)
        with step(self.console, "synthesizing the baseline (cdktf)"):
            synthesize(settings, folder)
        try:
            terraform = Terraform(folder, choice.cli_config)
        except FileNotFoundError as exc:
            raise HarnessError(
                "terraform is not on PATH", "install terraform >= 1.5 (see `demoapp doctor`)"
            ) from exc
        self._restore_state_file(settings, folder)
        lock_file = folder / LOCK_FILE
        if choice.is_standin:
            # With the stand-ins every provider is one of our launcher scripts, whose hash changes with the
            # venv path or the launcher template: a lock file there protects nothing and goes stale.
            lock_file.unlink(missing_ok=True)
        try:
            with step(self.console, "terraform init"):
                terraform.init()
        except TerraformError as exc:
            if CHECKSUM_MISMATCH not in str(exc):
                raise
            raise HarnessError(
                f"{lock_file} holds other hashes than the providers installed now ({exc})",
                f"if the demoapp provider launcher changed (new venv or code), remove {lock_file}, retry",
            ) from exc
        return terraform

    def _restore_state_file(self, settings: BaselineSettings, folder: Path) -> None:
        """A terraform killed while writing the local state leaves it empty or cut short: restore it before
        init, which cannot load a cut-short file.

        The pg backend writes each state in one transaction, so there is nothing to restore there."""
        if settings.backend != "local":
            return
        restored = _repair.restore_local_state((folder / LOCAL_STATE_PATH).resolve())
        if restored:
            self.console.print(f"[yellow]Repaired state:[/] {escape(restored)}")

    def _resume(self) -> tuple[BaselineSettings, Terraform]:
        settings, source = self.workspace.load()
        choice = self._choose_providers(prefer_for(source))
        return settings, self._terraform(settings, choice)

    def _revive_container_if_down(self, settings: BaselineSettings, terraform: Terraform) -> None:
        """After a crash, bring the container back with a targeted apply first.

        While the service is down, the provider cannot refresh the items and the display (connection
        refused), so a plain apply or destroy fails at refresh. Once the container runs again (empty), the
        provider sees the items gone (404) and the display differing, and one apply restores them.
        """
        if not terraform.state_list():
            return  # a first apply: nothing to refresh yet
        # Also when a failed apply left the container out of state while items and the display remain.
        container = _docker.find_container(_docker.client(), settings.container_name)
        if container is not None and container.status == "running":
            return
        self.console.print(
            f"The container {settings.container_name} is down: bringing it back first "
            f"(apply -target={CONTAINER_ADDRESS}), so the provider can reach the service again."
        )
        with step(self.console, "terraform apply (container)") as on_event:
            terraform.apply(on_event=on_event, targets=[CONTAINER_ADDRESS])

    def _remove_stray_container(self, settings: BaselineSettings, terraform: Terraform) -> None:
        """A container that a killed terraform created but never recorded: creating its name again fails
        (409). Removed rather than imported: its service holds nothing state knows, and re-creating it from
        the config relies on no provider's import reading back every configured attribute."""
        engine = _docker.client()
        container = _docker.find_container(engine, settings.container_name)
        if container is None:
            return
        recorded = [
            resource["values"].get("id")
            for resource in terraform.state_resources()
            if resource["address"] == CONTAINER_ADDRESS
        ]
        if container.id in recorded:
            return
        if not _docker.runs_image(engine, container, settings.image):
            raise HarnessError(
                f"a container named {settings.container_name} exists that this demo did not create",
                f"remove it (`docker rm -f {settings.container_name}`) or pick another name "
                "(DEMOAPP_CONTAINER)",
            )
        container.remove(force=True)
        self.console.print(
            f"[yellow]Removed container {settings.container_name}[/] ({container.short_id}): terraform "
            "created it but was stopped before recording it in state."
        )

    def _adopt_orphans(self, settings: BaselineSettings, terraform: Terraform) -> None:
        """Items created while terraform was killed are on the service but not in state: import those a
        configured item lacks, delete second copies of demo items, report the rest (never deleted)."""
        try:
            with httpx.Client(base_url=settings.app_url, timeout=HTTP_TIMEOUT) as http:
                live = [_repair.LiveItem.from_api(item) for item in http.get("/api/items").json()]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return  # no service to compare with (a first `up`): the apply starts it
        orphans = _repair.find_orphans(self._state_item_ids(terraform).values(), live)
        if not orphans:
            return
        configured = item_names(settings.items)
        if any(item.name in configured.values() for item in orphans):
            # Refreshed first: items state holds but the service lost (404) leave state, so their addresses
            # can take an orphan.
            with step(self.console, "terraform apply -refresh-only (items not in state)") as on_event:
                terraform.apply(on_event=on_event, extra_args=["-refresh-only"])
        plan = _repair.classify_orphans(configured, self._state_item_ids(terraform), live)
        for address, item_id in plan.imports.items():
            with step(self.console, f"terraform import {address} {item_id}"):
                terraform.import_resource(address, item_id)
            self.console.print(f"  [green]✓[/] {escape(address)} adopted item {escape(item_id)}")
        self._delete_duplicates(settings, plan.duplicates)
        for item in plan.foreign:
            self.console.print(
                f"  [yellow]![/] item {escape(str(item))} is not a demo item and not in state: left alone"
            )

    @staticmethod
    def _state_item_ids(terraform: Terraform) -> dict[str, str]:
        return {
            resource["address"]: str(resource["values"]["id"])
            for resource in terraform.state_resources()
            if resource["mode"] == "managed" and resource["type"] == "demoapp_item"
        }

    def _delete_duplicates(self, settings: BaselineSettings, duplicates: list[_repair.LiveItem]) -> None:
        if not duplicates:
            return
        try:
            with httpx.Client(base_url=settings.app_url, timeout=HTTP_TIMEOUT) as http:
                for item in duplicates:
                    http.delete(f"/api/items/{item.id}").raise_for_status()
                    self.console.print(f"  [green]✓[/] deleted item {escape(str(item))}: a second copy")
        except httpx.HTTPError as exc:
            raise HarnessError(
                f"could not delete a duplicate item on {settings.app_url} ({type(exc).__name__}: {exc})",
                "delete it in the page, then run `make recover` again",
            ) from exc

    def _apply(self, settings: BaselineSettings, terraform: Terraform, title: str) -> None:
        self._remove_stray_container(settings, terraform)
        self._revive_container_if_down(settings, terraform)
        self._adopt_orphans(settings, terraform)
        with step(self.console, title) as on_event:
            run = terraform.apply(on_event=on_event)
        # Terraform repeats a provider's warning per resource; once each is enough (the stand-ins' label).
        for summary in sorted({diag.summary for diag in run.diagnostics if diag.severity == "warning"}):
            self.console.print(f"  [yellow]warning:[/] {escape(summary)}")
        self.console.print(f"Applied in {run.seconds:.1f}s: {run.change_summary}.")

    # -- commands -------------------------------------------------------------------------------------
    def up(self, settings: BaselineSettings, prefer: str) -> Verification:
        engine = _docker.client()
        found = _docker.ensure_image(engine, settings.image, self.workspace.image_tarball)
        self.console.print(f"Image {settings.image}: {found}.")
        choice = self._choose_providers(prefer)
        self.workspace.save(settings, choice.source)
        terraform = self._terraform(settings, choice)
        self._apply(settings, terraform, "terraform apply")
        return self.verify(settings, terraform)

    def recover(self) -> tuple[Verification, PlanResult]:
        settings, terraform = self._resume()
        self._apply(settings, terraform, "terraform apply (recover)")
        verification = self.verify(settings, terraform)
        with step(self.console, "terraform plan (should be clean)"):
            plan = terraform.plan()
        return verification, plan

    def plan(self) -> PlanResult:
        _, terraform = self._resume()
        with step(self.console, "terraform plan") as on_event:
            return terraform.plan(on_event=on_event)

    def crash(self, *, restart: bool) -> str:
        settings, _ = self.workspace.load()
        return _docker.crash(_docker.client(), settings.container_name, restart=restart)

    def down(self) -> list[str]:
        """Destroy everything; returns the problems left behind (none when clean)."""
        settings, terraform = self._resume()
        # Destroy refreshes and deletes items through the service: it must be running.
        self._revive_container_if_down(settings, terraform)
        with step(self.console, "terraform destroy") as on_event:
            run = terraform.destroy(on_event=on_event)
        self.console.print(f"Destroyed in {run.seconds:.1f}s.")
        problems = []
        leftover = _docker.containers_named(_docker.client(), settings.container_name)
        if leftover:
            problems.append(f"container {settings.container_name} still exists")
        in_state = terraform.state_list()
        if in_state:
            problems.append(f"state still holds {', '.join(in_state)}")
        return problems

    def status(self) -> dict[str, Any]:
        settings, terraform = self._resume()
        report: dict[str, Any] = {"url": settings.app_url, "backend": settings.backend}
        container = _docker.find_container(_docker.client(), settings.container_name)
        report["container"] = "absent" if container is None else _docker.health(container)
        try:
            health = httpx.get(f"{settings.app_url}/health", timeout=HTTP_TIMEOUT)
            report["health"] = f"{health.status_code} {health.json().get('status')}"
            verification = self.verify(settings, terraform, quiet=True)
        except (httpx.HTTPError, ValueError, HarnessError) as exc:
            report["health"] = f"unreachable ({type(exc).__name__})"
            # The provider cannot refresh through a dead service; plan would only fail.
            report["drift"] = "unknown while the service is down: `make recover` brings it back"
            return report
        present = verification.items_in_state - len(verification.items_missing)
        report["items"] = f"{present} of {verification.items_in_state} in state"
        if verification.items_extra:
            report["items not in state"] = len(verification.items_extra)
        report["display matches state"] = verification.display_matches
        with step(self.console, "terraform plan (drift)"):
            plan = terraform.plan()
        report["drift"] = plan.describe()
        return report

    # -- checks ---------------------------------------------------------------------------------------
    def verify(
        self, settings: BaselineSettings, terraform: Terraform, *, quiet: bool = False
    ) -> Verification:
        """Compare the live service (display, items, page) with the state Terraform holds."""
        resources = terraform.state_resources()
        try:
            with httpx.Client(base_url=settings.app_url, timeout=HTTP_TIMEOUT) as http:
                display = http.get("/api/display")
                live_items = http.get("/api/items").json()
                page_ok = http.get("/").status_code == 200
        except (httpx.HTTPError, ValueError) as exc:
            raise HarnessError(
                f"the service at {settings.app_url} does not answer ({type(exc).__name__}: {exc})",
                "see `demoapp status`; `make recover` brings it back",
            ) from exc
        display_body = display.content if display.status_code == 200 else None
        result = Verification.compare(resources, display_body, live_items, page_ok=page_ok)
        if not quiet:
            self._print_verification(settings, result)
        return result

    def _print_verification(self, settings: BaselineSettings, result: Verification) -> None:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        self.console.print(
            f"{mark} {settings.app_url}: display "
            f"{'matches state' if result.display_matches else 'DIFFERS from state'} "
            f"(captured_at {result.display_captured_at}), "
            f"{result.items_in_state - len(result.items_missing)}/{result.items_in_state} items, "
            f"page {'loads' if result.page_ok else 'FAILS'}"
        )
        for problem in result.problems():
            self.console.print(f"  [red]•[/] {problem}")
