"""`demoapp stress`: the parallel-apply stress test and its tuner.

For every combination of store engine, `-parallelism` and provider retries (and every repeat) it starts a
fresh service, applies N `demoapp_item` plus a display, and records what failed (with terraform's error
text), how long the apply took, the server's store write latency and lock errors (from `/metrics`,
before/after), and whether state and server agree (same ids, no orphans, no duplicates); then it destroys
and stops the service. In the same sweep it applies N built-in `terraform_data` at each parallelism as
the reference. Results: a table, `results.json` and `results.csv` and a PNG plot under
`stress-results/<timestamp>/`, and recommendation lines computed from the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from examples.harness._errors import HarnessError
from examples.harness._stress_metrics import MetricsSnapshot
from examples.harness._stress_results import (
    BASELINE_ENGINE,
    Failure,
    Group,
    StressRun,
    baseline_ratio,
    group_runs,
    recommendations,
    write_results,
)
from examples.harness._stress_service import container_service, local_service
from examples.harness._terraform import Event, Terraform, TerraformError
from examples.harness._work import work_folder
from provider import ADDRESS, VERSION, install_launcher, write_cli_config
from provider._server import DEFAULT_WORKERS, MAX_WORKERS, WORKERS_ENV

ENGINES = ("lsm", "memory", "sqlite")
MAX_ITEMS = 5000
MAX_PARALLELISM = 500
MAX_REPEAT = 20
MAX_RETRIES = 20
# Destroy is clean-up, not measurement: it always retries, so a busy sqlite cannot leave state behind;
# it skips the refresh (state was just compared with the server) and runs at least this parallel.
CLEANUP_RETRIES = 10
CLEANUP_ENV = {"TF_VAR_retries": str(CLEANUP_RETRIES), "TF_CLI_ARGS_destroy": "-refresh=false"}
CLEANUP_MIN_PARALLELISM = 10
PROVIDER_MODULE = "provider"
ITEM_TYPE = "demoapp_item"


@dataclass(frozen=True)
class StressOptions:
    items: int = 200
    parallelism: tuple[int, ...] = (1, 10, 50)
    engines: tuple[str, ...] = ENGINES
    retries: tuple[int, ...] = (0, 5)
    repeat: int = 1
    workers: int = DEFAULT_WORKERS
    local: bool = False
    image: str = "demoapp:dev"
    baseline: bool = True

    @property
    def combinations(self) -> list[tuple[str, int, int]]:
        return [
            (engine, parallelism, retries)
            for engine in self.engines
            for parallelism in self.parallelism
            for retries in self.retries
        ]

    @property
    def run_count(self) -> int:
        baseline_runs = len(self.parallelism) if self.baseline else 0
        return (len(self.combinations) + baseline_runs) * self.repeat

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "parallelism": list(self.parallelism),
            "engines": list(self.engines),
            "retries": list(self.retries),
            "repeat": self.repeat,
            "provider_workers": self.workers,
            "service": "local process" if self.local else f"container {self.image}",
        }


def items_config(items: int) -> dict[str, Any]:
    """N items and a display from our provider (from the mirror); endpoint and retries are variables so
    one initialised folder serves every run."""
    return {
        "terraform": {
            "required_providers": {
                "demoapp": {"source": ADDRESS.removeprefix("registry.terraform.io/"), "version": VERSION}
            }
        },
        "variable": {"endpoint": {"type": "string"}, "retries": {"type": "number"}},
        "provider": {"demoapp": {"endpoint": "${var.endpoint}", "retries": "${var.retries}"}},
        "resource": {
            ITEM_TYPE: {
                "stress": {
                    "count": items,
                    "name": "stress-${count.index}",
                    "description": "created by demoapp stress",
                }
            },
            "demoapp_display": {
                "stress": {"data": '${jsonencode({source = "demoapp stress", items = ' + f"{items}" + "})}"}
            },
        },
    }


def baseline_config(items: int) -> dict[str, Any]:
    """N built-in terraform_data: terraform's own cost of creating that many resources."""
    return {"resource": {"terraform_data": {"stress": {"count": items, "input": "stress-${count.index}"}}}}


@dataclass
class ApplyObserver:
    """Collects what `terraform apply -json` says about each resource: start and end times, failures."""

    on_resource_done: Callable[[], None] = lambda: None
    started: dict[str, float] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    errored: list[str] = field(default_factory=list)
    errors: dict[str | None, list[str]] = field(default_factory=dict)
    last_finished: float | None = None

    def __call__(self, event: Event) -> None:
        if event.type == "apply_start" and event.address:
            self.started[event.address] = _timestamp(event)
        elif event.type == "apply_complete" and event.address:
            if event.action == "create" and event.address in self.started:
                self.durations[event.address] = _timestamp(event) - self.started[event.address]
            self.last_finished = _timestamp(event)
            self.on_resource_done()
        elif event.type == "apply_errored" and event.address:
            self.errored.append(event.address)
            self.last_finished = _timestamp(event)
            self.on_resource_done()
        elif event.type == "diagnostic" and event.raw.get("diagnostic", {}).get("severity") == "error":
            diagnostic = event.raw["diagnostic"]
            text = ": ".join(part for part in (diagnostic.get("summary"), diagnostic.get("detail")) if part)
            self.errors.setdefault(diagnostic.get("address"), []).append(text)

    @property
    def created(self) -> int:
        return len(self.durations)

    @property
    def apply_phase_seconds(self) -> float | None:
        if not self.started or self.last_finished is None:
            return None
        return self.last_finished - min(self.started.values())

    def failures(self, resources: int) -> list[Failure]:
        """One failure per resource that errored; an apply that failed before any resource (a provider
        configuration error) counts every resource as failed with that error."""
        found = [
            Failure(address, "; ".join(self.errors.get(address, [])) or "failed") for address in self.errored
        ]
        unattributed = "; ".join(self.errors.get(None, []))
        if unattributed and not found and self.created == 0:
            return [Failure(None, unattributed)] * resources
        return found

    def create_quantile(self, quantile: float) -> float | None:
        if not self.durations:
            return None
        ordered = sorted(self.durations.values())
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def _timestamp(event: Event) -> float:
    return datetime.fromisoformat(str(event.raw["@timestamp"])).timestamp()


def scrape(client: httpx.Client) -> MetricsSnapshot:
    response = client.get("/metrics")
    response.raise_for_status()
    return MetricsSnapshot.parse(response.text)


def server_items(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/items")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()
    return items


def compare_state_and_server(
    state: Sequence[dict[str, Any]], server: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Ids in state but not on the server, ids on the server no state knows (orphans, e.g. a create that
    succeeded but was reported failed), and names the server holds more than once."""
    state_ids = {str(resource["values"]["id"]) for resource in state if resource.get("type") == ITEM_TYPE}
    server_ids = {str(item["id"]) for item in server}
    names = Counter(str(item["name"]) for item in server)
    return {
        "state_ids": len(state_ids),
        "server_ids": len(server_ids),
        "missing_on_server": sorted(state_ids - server_ids, key=_numeric_first),
        "orphans_on_server": sorted(server_ids - state_ids, key=_numeric_first),
        "duplicate_names": sorted(name for name, count in names.items() if count > 1),
    }


def _numeric_first(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


@dataclass
class RunProgress:
    """The progress line of one apply: resources done, and what the run is doing now."""

    progress: Progress
    task: TaskID
    label: str

    def advance(self) -> None:
        self.progress.advance(self.task)

    def phase(self, doing: str) -> None:
        self.progress.update(self.task, description=escape(f"  {self.label}: {doing}"))


class Sweep:
    """Runs the combinations of `options` in `work/stress/` and collects a `StressRun` for each."""

    def __init__(self, options: StressOptions, work: Path, console: Console) -> None:
        self.options = options
        self.folder = (work / "stress").resolve()
        self.console = console
        self.runs: list[StressRun] = []

    def _prepare(self) -> tuple[Terraform, Terraform]:
        """Our provider in a mirror private to the stress test (its own CLI config, so the demo's is never
        touched), and two initialised folders: ours and the terraform_data reference."""
        install_launcher(self.folder / "mirror", ADDRESS, VERSION, PROVIDER_MODULE)
        cli_config = write_cli_config(self.folder, [ADDRESS])
        folders = {"items": items_config(self.options.items), "baseline": baseline_config(self.options.items)}
        runners = []
        for name, config in folders.items():
            workdir = self.folder / name
            workdir.mkdir(parents=True, exist_ok=True)
            (workdir / "main.tf.json").write_text(json.dumps(config, indent=2))
            _remove_state(workdir)
            # The launcher was just rewritten (it may differ after a provider upgrade): a lock file from an
            # earlier sweep would refuse it, and this private folder has no lock worth keeping.
            (workdir / ".terraform.lock.hcl").unlink(missing_ok=True)
            terraform = Terraform(workdir, cli_config, env=CLEANUP_ENV)
            terraform.init()
            runners.append(terraform)
        return runners[0], runners[1]

    def _service(self, engine: str, label: str) -> AbstractContextManager[str]:
        if self.options.local:
            return local_service(engine, self.folder / "logs" / f"{label}.log")
        return container_service(engine, self.options.image)

    def run(self) -> list[StressRun]:
        items_tf, baseline_tf = self._prepare()
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        with progress:
            sweep_task = progress.add_task("stress sweep", total=self.options.run_count)
            apply_task = progress.add_task("", total=self.options.items + 1)
            for repeat in range(1, self.options.repeat + 1):
                plan: list[tuple[str, int, int | None]] = []
                if self.options.baseline:
                    plan += [(BASELINE_ENGINE, parallelism, None) for parallelism in self.options.parallelism]
                plan += self.options.combinations
                for engine, parallelism, retries in plan:
                    label = f"{engine} P={parallelism}" + ("" if retries is None else f" retries={retries}")
                    resources = self.options.items + (0 if retries is None else 1)
                    progress.reset(apply_task, total=resources)
                    tracker = RunProgress(progress, apply_task, f"{label} #{repeat}")
                    if retries is None:
                        run = self._baseline_run(baseline_tf, parallelism, repeat, tracker)
                    else:
                        run = self._items_run(items_tf, engine, parallelism, retries, repeat, tracker)
                    self.runs.append(run)
                    progress.console.print(escape(_one_line(run)))
                    progress.advance(sweep_task)
        return self.runs

    def _baseline_run(
        self, terraform: Terraform, parallelism: int, repeat: int, tracker: RunProgress
    ) -> StressRun:
        tracker.phase("applying")
        observer = ApplyObserver(tracker.advance)
        started = time.monotonic()
        with suppress(TerraformError):  # what failed is in the observer
            terraform.apply(on_event=observer, parallelism=parallelism)
        wall = time.monotonic() - started
        run = StressRun(
            engine=BASELINE_ENGINE,
            parallelism=parallelism,
            retries=None,
            repeat=repeat,
            items=self.options.items,
            resources=self.options.items,
            wall_seconds=wall,
            created=observer.created,
            failures=observer.failures(self.options.items),
            apply_phase_seconds=observer.apply_phase_seconds,
            create_p50_seconds=observer.create_quantile(0.5),
            create_p99_seconds=observer.create_quantile(0.99),
        )
        tracker.phase("destroying")
        destroy_started = time.monotonic()
        try:
            terraform.destroy(parallelism=max(parallelism, CLEANUP_MIN_PARALLELISM))
        except TerraformError as exc:
            run.destroy_errors.append(str(exc))
        run.destroy_seconds = time.monotonic() - destroy_started
        _remove_state(terraform.workdir)
        return run

    def _items_run(
        self,
        terraform: Terraform,
        engine: str,
        parallelism: int,
        retries: int,
        repeat: int,
        tracker: RunProgress,
    ) -> StressRun:
        resources = self.options.items + 1
        tracker.phase("starting the service")
        with (
            self._service(engine, f"{engine}-p{parallelism}-r{retries}-{repeat}") as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            env = {"TF_VAR_endpoint": url, WORKERS_ENV: str(self.options.workers)}
            measured = Terraform(
                terraform.workdir, terraform.cli_config, env={**env, "TF_VAR_retries": str(retries)}
            )
            cleanup = Terraform(terraform.workdir, terraform.cli_config, env={**env, **CLEANUP_ENV})

            before = scrape(client)
            tracker.phase("applying")
            observer = ApplyObserver(tracker.advance)
            started = time.monotonic()
            with suppress(TerraformError):  # what failed is in the observer
                measured.apply(on_event=observer, parallelism=parallelism)
            wall = time.monotonic() - started
            server_side = scrape(client).since(before)

            tracker.phase("comparing state and server")
            agreement = compare_state_and_server(measured.state_resources(), server_items(client))
            run = StressRun(
                engine=engine,
                parallelism=parallelism,
                retries=retries,
                repeat=repeat,
                items=self.options.items,
                resources=resources,
                wall_seconds=wall,
                created=observer.created,
                failures=observer.failures(resources),
                apply_phase_seconds=observer.apply_phase_seconds,
                create_p50_seconds=observer.create_quantile(0.5),
                create_p99_seconds=observer.create_quantile(0.99),
                server_writes=server_side.write_count,
                server_write_p50_seconds=server_side.write_quantile(0.5),
                server_write_p99_seconds=server_side.write_quantile(0.99),
                locked_errors=server_side.locked_errors,
                **agreement,
            )

            tracker.phase("destroying")
            destroy_started = time.monotonic()
            try:
                cleanup.destroy(parallelism=max(parallelism, CLEANUP_MIN_PARALLELISM))
            except TerraformError as exc:
                run.destroy_errors.append(str(exc))
            run.destroy_seconds = time.monotonic() - destroy_started
            run.left_after_destroy = len(server_items(client))
            _remove_state(terraform.workdir)
        return run


def _remove_state(workdir: Path) -> None:
    for name in ("terraform.tfstate", "terraform.tfstate.backup"):
        (workdir / name).unlink(missing_ok=True)


def _one_line(run: StressRun) -> str:
    retries = "" if run.retries is None else f" retries={run.retries}"
    agree = "" if run.agree is None else ("  state=server" if run.agree else "  STATE != SERVER")
    return (
        f"{run.engine} P={run.parallelism}{retries} #{run.repeat}: {run.created}/{run.resources} created, "
        f"{run.failed} failed, {run.wall_seconds:.2f} s, {run.resources_per_second:.0f} res/s{agree}"
    )


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}" if value >= 0.01 else f"{value * 1000:.1f}"


# Short headers: the table must fit an 80-column terminal on stage.
TABLE_COLUMNS = (
    ("engine", "engine"),
    ("P", "terraform -parallelism"),
    ("retr", "provider retries"),
    ("failed", "failed resources (worst repeat)"),
    ("apply s", "apply wall time, median"),
    ("res/s", "resources created per second"),
    ("x tf", "apply time / terraform_data's"),
    ("p99 ms", "create p99 as terraform saw it"),
    ("store ms", "server store write p50/p99"),
    ("lock", "lock/busy errors on the server"),
    ("ok", "state and server agree"),
)


def results_table(groups: Sequence[Group]) -> Table:
    legend = "; ".join(f"{short}: {meaning}" for short, meaning in TABLE_COLUMNS[1:])
    table = Table(
        title="demoapp stress (medians over repeats)",
        caption=legend,
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )
    for short, _meaning in TABLE_COLUMNS:
        table.add_column(short, justify="left" if short in ("engine", "retr") else "right", no_wrap=True)
    for group in groups:
        ratio = baseline_ratio(group, groups)
        agree = {None: "", True: "[green]yes[/]", False: "[red]NO[/]"}[group.agree]
        failed = f"[red]{group.failed}[/]" if group.failed else "0"
        store_p50, store_p99 = group.server_write_p50_seconds, group.server_write_p99_seconds
        store = "" if store_p99 is None else f"{_milliseconds(store_p50)}/{_milliseconds(store_p99)}"
        table.add_row(
            escape("tf_data" if group.engine == BASELINE_ENGINE else group.engine),
            str(group.parallelism),
            "" if group.retries is None else str(group.retries),
            f"{failed}/{group.resources}",
            f"{group.wall_seconds:.2f}",
            f"{group.resources_per_second:.0f}",
            "" if ratio is None else f"{ratio:.2f}",
            _milliseconds(group.create_p99_seconds),
            store,
            "" if group.locked_errors is None else str(group.locked_errors),
            agree,
        )
    return table


def report(runs: Sequence[StressRun], options: StressOptions, out: Path, console: Console) -> Path:
    """Print the table and recommendations; write JSON, CSV and the plot into `out/<timestamp>/`."""
    groups = group_runs(runs)
    console.print(results_table(groups))
    for group in groups:
        if group.errors:
            console.print(f"[red]{escape(group.label)} P={group.parallelism}:[/] {escape(group.errors[0])}")
    advice = recommendations(groups)
    console.print("[bold]Tuner:[/]")
    for line in advice:
        console.print(f"  • {escape(line)}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out / stamp
    # Wall times only mean something next to how busy the machine was.
    load = os.getloadavg()[1]
    settings = {**options.to_json(), "finished_at": stamp, "cpus": os.cpu_count(), "load_average_5m": load}
    json_path, csv_path = write_results(folder, runs, settings, advice)
    from examples.harness._stress_plot import plot  # matplotlib: only paid for by a finished sweep

    title = (
        f"{options.items} items, provider workers {options.workers}, {settings['service']}, "
        f"{os.cpu_count()} CPUs at load {load:.1f}"
    )
    png_path = plot(groups, folder / "stress.png", f"demoapp stress: {title}")
    console.print(f"Results: {json_path}, {csv_path}, {png_path}")
    return folder


def _int_list(low: int, high: int) -> Callable[[str], tuple[int, ...]]:
    def parse(text: str) -> tuple[int, ...]:
        try:
            values = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        out_of_range = [value for value in values if not low <= value <= high]
        if out_of_range:
            raise argparse.ArgumentTypeError(f"values must be between {low} and {high}, got {out_of_range}")
        return tuple(dict.fromkeys(values))

    return parse


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _engines(text: str) -> tuple[str, ...]:
    engines = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [engine for engine in engines if engine not in ENGINES]
    if unknown or not engines:
        raise argparse.ArgumentTypeError(f"engines are {', '.join(ENGINES)}; got {text!r}")
    return engines


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register `stress` on the harness CLI's subparsers."""
    defaults = StressOptions()
    parser: argparse.ArgumentParser = commands.add_parser(
        "stress",
        help="parallel-apply stress sweep across store engines, with a tuner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--items",
        type=_bounded_int(1, MAX_ITEMS),
        default=defaults.items,
        help=f"demoapp_item per apply (default {defaults.items})",
    )
    parser.add_argument(
        "--parallelism",
        type=_int_list(1, MAX_PARALLELISM),
        default=defaults.parallelism,
        help="comma-separated terraform -parallelism values (default 1,10,50)",
    )
    parser.add_argument(
        "--engine",
        type=_engines,
        default=defaults.engines,
        dest="engines",
        help="comma-separated store engines (default lsm,memory,sqlite)",
    )
    parser.add_argument(
        "--retries",
        type=_int_list(0, MAX_RETRIES),
        default=defaults.retries,
        help="comma-separated provider retries settings (default 0,5)",
    )
    parser.add_argument(
        "--repeat",
        type=_bounded_int(1, MAX_REPEAT),
        default=defaults.repeat,
        help="runs per combination (default 1)",
    )
    parser.add_argument(
        "--workers",
        type=_bounded_int(1, MAX_WORKERS),
        default=defaults.workers,
        help=f"provider gRPC workers, i.e. its concurrency limit (default {defaults.workers})",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="run the service as a local process instead of the container (faster)",
    )
    parser.add_argument(
        "--image",
        default=os.environ.get("DEMOAPP_IMAGE", defaults.image),
        help="service image when not --local (default $DEMOAPP_IMAGE or demoapp:dev)",
    )
    parser.add_argument(
        "--no-baseline", action="store_false", dest="baseline", help="skip the terraform_data reference runs"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("stress-results"),
        help="results folder; each sweep writes a timestamped subfolder (default stress-results)",
    )
    parser.set_defaults(handler=cmd_stress)
    return parser


def options_from(args: argparse.Namespace) -> StressOptions:
    return StressOptions(
        items=args.items,
        parallelism=args.parallelism,
        engines=args.engines,
        retries=args.retries,
        repeat=args.repeat,
        workers=args.workers,
        local=args.local,
        image=args.image,
        baseline=args.baseline,
    )


def cmd_stress(args: argparse.Namespace, console: Console) -> int:
    if shutil.which("terraform") is None:
        raise HarnessError("terraform is not on PATH", "install terraform 1.11 (see README)")
    options = options_from(args)
    console.print(
        f"Stress: {options.run_count} applies ({len(options.combinations)} combination(s)"
        f"{' + terraform_data' if options.baseline else ''}, x{options.repeat}), {options.items} items each, "
        f"{'local service' if options.local else 'container ' + options.image}."
    )
    sweep = Sweep(options, work_folder(args), console)
    try:
        sweep.run()
    except (KeyboardInterrupt, HarnessError):
        # Ctrl-C on stage, or a service that would not start: keep what was measured so far.
        if sweep.runs:
            console.print(f"[bold yellow]Sweep stopped after {len(sweep.runs)} applies; reporting those.[/]")
            report(sweep.runs, options, args.out, console)
        raise
    report(sweep.runs, options, args.out, console)
    return 0
