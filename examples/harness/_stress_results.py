"""Stress results: one record per apply, their grouping, the tuner's recommendations, JSON and CSV files.

Everything here is pure (no terraform, no service), so the tuner's logic is unit-tested on made-up data.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BASELINE_ENGINE = "terraform_data"
# Throughput "stops growing" once no higher parallelism is at least this much faster.
GROWTH_THRESHOLD = 0.10
RATIO_TARGET = 1.5
RATIO_TARGET_ENGINE = "lsm"
RATIO_TARGET_ITEMS = 200
RATIO_TARGET_PARALLELISM = 50


@dataclass(frozen=True)
class Failure:
    address: str | None
    error: str


@dataclass
class StressRun:
    """One `terraform apply` of `items` items plus a display (or `items` terraform_data for the baseline)
    against a fresh service, and what it did to the server."""

    engine: str
    parallelism: int
    retries: int | None
    repeat: int
    items: int
    resources: int
    wall_seconds: float
    created: int
    failures: list[Failure] = field(default_factory=list)
    # From the first resource started to the last finished: the creates, without terraform's start-up
    # and plan (which the wall time includes).
    apply_phase_seconds: float | None = None
    create_p50_seconds: float | None = None
    create_p99_seconds: float | None = None
    server_writes: int | None = None
    server_write_p50_seconds: float | None = None
    server_write_p99_seconds: float | None = None
    locked_errors: int | None = None
    state_ids: int | None = None
    server_ids: int | None = None
    missing_on_server: list[str] = field(default_factory=list)
    orphans_on_server: list[str] = field(default_factory=list)
    duplicate_names: list[str] = field(default_factory=list)
    destroy_seconds: float | None = None
    destroy_errors: list[str] = field(default_factory=list)
    left_after_destroy: int | None = None

    @property
    def is_baseline(self) -> bool:
        return self.engine == BASELINE_ENGINE

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def resources_per_second(self) -> float:
        return self.created / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def agree(self) -> bool | None:
        """State and server hold the same items, none twice. None for the baseline (no server)."""
        if self.is_baseline:
            return None
        return not (self.missing_on_server or self.orphans_on_server or self.duplicate_names)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(failed=self.failed, resources_per_second=self.resources_per_second, agree=self.agree)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StressRun:
        fields = {key: value for key, value in data.items() if key in cls.__dataclass_fields__}
        fields["failures"] = [Failure(**failure) for failure in data.get("failures", [])]
        return cls(**fields)


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


@dataclass
class Group:
    """The repeats of one combination (engine, parallelism, retries)."""

    engine: str
    parallelism: int
    retries: int | None
    runs: list[StressRun]

    @property
    def label(self) -> str:
        return self.engine if self.retries is None else f"{self.engine} (retries {self.retries})"

    @property
    def failed(self) -> int:
        """The worst repeat: a combination that failed once is not safe."""
        return max(run.failed for run in self.runs)

    @property
    def resources(self) -> int:
        return self.runs[0].resources

    @property
    def wall_seconds(self) -> float:
        return float(statistics.median(run.wall_seconds for run in self.runs))

    @property
    def resources_per_second(self) -> float:
        return float(statistics.median(run.resources_per_second for run in self.runs))

    @property
    def create_p99_seconds(self) -> float | None:
        return _median(run.create_p99_seconds for run in self.runs)

    @property
    def server_write_p50_seconds(self) -> float | None:
        return _median(run.server_write_p50_seconds for run in self.runs)

    @property
    def server_write_p99_seconds(self) -> float | None:
        return _median(run.server_write_p99_seconds for run in self.runs)

    @property
    def locked_errors(self) -> int | None:
        counts = [run.locked_errors for run in self.runs if run.locked_errors is not None]
        return sum(counts) if counts else None

    @property
    def agree(self) -> bool | None:
        verdicts = [run.agree for run in self.runs]
        return None if None in verdicts else all(verdicts)

    @property
    def errors(self) -> list[str]:
        """Distinct error texts, most frequent first."""
        counted: dict[str, int] = {}
        for run in self.runs:
            for failure in run.failures:
                counted[failure.error] = counted.get(failure.error, 0) + 1
        return sorted(counted, key=lambda error: -counted[error])

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "parallelism": self.parallelism,
            "retries": self.retries,
            "repeats": len(self.runs),
            "resources": self.resources,
            "failed_max": self.failed,
            "wall_seconds_median": self.wall_seconds,
            "resources_per_second_median": self.resources_per_second,
            "create_p99_seconds_median": self.create_p99_seconds,
            "server_write_p50_seconds_median": self.server_write_p50_seconds,
            "server_write_p99_seconds_median": self.server_write_p99_seconds,
            "locked_errors_total": self.locked_errors,
            "agree": self.agree,
            "errors": self.errors[:5],
        }


def group_runs(runs: Iterable[StressRun]) -> list[Group]:
    """Runs grouped by combination, in engine order of first appearance, then parallelism, then retries."""
    groups: dict[tuple[str, int, int | None], Group] = {}
    engine_order: dict[str, int] = {}
    for run in runs:
        engine_order.setdefault(run.engine, len(engine_order))
        key = (run.engine, run.parallelism, run.retries)
        groups.setdefault(key, Group(run.engine, run.parallelism, run.retries, [])).runs.append(run)
    return sorted(
        groups.values(),
        key=lambda group: (
            engine_order[group.engine],
            group.parallelism,
            -1 if group.retries is None else group.retries,
        ),
    )


def baseline_ratio(group: Group, groups: Sequence[Group]) -> float | None:
    """Median apply time of `group` over that of terraform_data at the same parallelism and item count."""
    for other in groups:
        same_shape = other.parallelism == group.parallelism and other.runs[0].items == group.runs[0].items
        if other.engine == BASELINE_ENGINE and same_shape and other.wall_seconds > 0:
            return group.wall_seconds / other.wall_seconds
    return None


def _series(groups: Sequence[Group], engine: str, retries: int | None) -> list[Group]:
    return sorted(
        (group for group in groups if group.engine == engine and group.retries == retries),
        key=lambda group: group.parallelism,
    )


def throughput_plateau(series: Sequence[Group]) -> Group | None:
    """The lowest parallelism beyond which no measured parallelism is GROWTH_THRESHOLD faster; None when
    throughput still grows at the highest parallelism measured (or fewer than two were measured)."""
    if len(series) < 2:
        return None
    for index, group in enumerate(series[:-1]):
        best_after = max(later.resources_per_second for later in series[index + 1 :])
        if best_after < group.resources_per_second * (1 + GROWTH_THRESHOLD):
            return group
    return None


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def recommendations(groups: Sequence[Group]) -> list[str]:
    """What the measurements say to change: where sqlite breaks, where throughput stops growing, what
    retries cost, how far our provider is from terraform_data, and the setting to use."""
    lines: list[str] = []
    engines = list(dict.fromkeys(group.engine for group in groups if group.engine != BASELINE_ENGINE))

    unretried_sqlite = _series(groups, "sqlite", 0)
    if unretried_sqlite:
        breaking = next((group for group in unretried_sqlite if group.failed > 0), None)
        if breaking is None:
            highest = unretried_sqlite[-1].parallelism
            lines.append(
                f"sqlite did not fail with --retries 0 at any parallelism measured (up to {highest})."
            )
        else:
            safe = [
                group.parallelism for group in unretried_sqlite if group.parallelism < breaking.parallelism
            ]
            below = f"; it held at -parallelism={max(safe)}" if safe else ""
            reason = f" ({breaking.errors[0]})" if breaking.errors else ""
            lines.append(
                f"sqlite breaks at -parallelism={breaking.parallelism} with --retries 0: "
                f"{breaking.failed} of {breaking.resources} creates failed{reason}{below}. "
                "Use lsm or memory, or give the provider retries."
            )

    # A setting (engine, retries) that failed or disagreed at any parallelism is not one to tune or advise.
    unsafe = {(group.engine, group.retries) for group in groups if group.failed > 0 or group.agree is False}
    for engine in engines:
        for retries in dict.fromkeys(group.retries for group in groups if group.engine == engine):
            series = _series(groups, engine, retries)
            if len(series) < 2 or (engine, retries) in unsafe:
                continue
            label = series[0].label
            plateau = throughput_plateau(series)
            if plateau is None:
                top = series[-1]
                lines.append(
                    f"{label}: throughput still grows at -parallelism={top.parallelism} "
                    f"({top.resources_per_second:.0f} resources/s); measure higher values."
                )
            else:
                fastest = max(series, key=lambda member: member.resources_per_second)
                lines.append(
                    f"{label}: throughput stops growing beyond -parallelism={plateau.parallelism} "
                    f"({plateau.resources_per_second:.0f} resources/s; "
                    f"best {fastest.resources_per_second:.0f} at {fastest.parallelism}); "
                    f"higher parallelism buys less than {GROWTH_THRESHOLD:.0%}."
                )

    for engine in engines:
        for unretried in _series(groups, engine, 0):
            if unretried.failed == 0:
                continue
            retried = [
                group
                for group in groups
                if group.engine == engine
                and group.parallelism == unretried.parallelism
                and (group.retries or 0) > 0
            ]
            for group in retried:
                extra = group.wall_seconds - unretried.wall_seconds
                lines.append(
                    f"{engine} at -parallelism={group.parallelism}: --retries {group.retries} took failures "
                    f"from {unretried.failed} to {group.failed} at a cost of {extra:+.2f} s apply time "
                    f"({extra / unretried.wall_seconds:+.0%}); create p99 "
                    f"{_seconds(unretried.create_p99_seconds)} -> {_seconds(group.create_p99_seconds)}."
                )

    for group in groups:
        if group.engine == BASELINE_ENGINE:
            continue
        ratio = baseline_ratio(group, groups)
        is_target = (
            group.engine == RATIO_TARGET_ENGINE
            and group.parallelism == RATIO_TARGET_PARALLELISM
            and group.runs[0].items == RATIO_TARGET_ITEMS
        )
        if ratio is not None and is_target:
            verdict = "meets" if ratio <= RATIO_TARGET else "misses"
            lines.append(
                f"{group.label}, {group.runs[0].items} items at -parallelism={group.parallelism}: "
                f"{ratio:.2f}x the apply time of terraform_data ({verdict} the {RATIO_TARGET}x target)."
            )

    clean = [
        group
        for group in groups
        if group.engine != BASELINE_ENGINE and (group.engine, group.retries) not in unsafe and group.agree
    ]
    if clean:
        best = max(clean, key=lambda group: group.resources_per_second)
        lines.append(
            f"Recommended: --store {best.engine} with -parallelism={best.parallelism}"
            + (f" and provider retries = {best.retries}" if best.retries else "")
            + f" ({best.resources_per_second:.0f} resources/s, no failures, state and server agree)."
        )
    return lines


CSV_COLUMNS = (
    "engine",
    "parallelism",
    "retries",
    "repeat",
    "items",
    "resources",
    "created",
    "failed",
    "wall_seconds",
    "resources_per_second",
    "apply_phase_seconds",
    "create_p50_seconds",
    "create_p99_seconds",
    "server_writes",
    "server_write_p50_seconds",
    "server_write_p99_seconds",
    "locked_errors",
    "state_ids",
    "server_ids",
    "agree",
    "destroy_seconds",
    "left_after_destroy",
    "first_error",
)


def write_results(
    folder: Path, runs: Sequence[StressRun], settings: dict[str, Any], advice: Sequence[str]
) -> tuple[Path, Path]:
    """Write `results.json` (settings, every run, the groups, the recommendations) and `results.csv` (a
    row per run) into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = group_runs(runs)
    document = {
        "settings": settings,
        "runs": [run.to_json() for run in runs],
        "groups": [
            {**group.to_json(), "ratio_to_terraform_data": baseline_ratio(group, groups)} for group in groups
        ],
        "recommendations": list(advice),
    }
    json_path = folder / "results.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    csv_path = folder / "results.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for run in runs:
            row = run.to_json()
            row["first_error"] = run.failures[0].error if run.failures else ""
            writer.writerow({column: row.get(column) for column in CSV_COLUMNS})
    return json_path, csv_path


def read_runs(json_path: Path) -> list[StressRun]:
    """The runs of a `results.json` written by `write_results`."""
    return [StressRun.from_json(run) for run in json.loads(json_path.read_text())["runs"]]
