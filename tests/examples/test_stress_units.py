"""The stress test's pure parts: /metrics parsing and quantiles, terraform event collection, state vs server,
the tuner's recommendations, result files, the plot and the command line."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.harness import cli, stress
from examples.harness._stress_metrics import MetricsSnapshot, histogram_quantile
from examples.harness._stress_plot import plot
from examples.harness._stress_results import (
    BASELINE_ENGINE,
    Failure,
    StressRun,
    baseline_ratio,
    group_runs,
    read_runs,
    recommendations,
    throughput_plateau,
    write_results,
)
from examples.harness._terraform import Event
from examples.harness.stress import ApplyObserver, compare_state_and_server, items_config

METRICS_BEFORE = """\
# HELP demoapp_store_write_seconds Store write latency
# TYPE demoapp_store_write_seconds histogram
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.001"} 1.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.01"} 2.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.1"} 2.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="+Inf"} 2.0
demoapp_store_write_seconds_count{engine="sqlite",op="create"} 2.0
demoapp_store_write_seconds_sum{engine="sqlite",op="create"} 0.006
# HELP demoapp_store_errors_total Store errors
# TYPE demoapp_store_errors_total counter
demoapp_store_errors_total{engine="sqlite",kind="locked"} 1.0
# HELP demoapp_items_total Items
# TYPE demoapp_items_total gauge
demoapp_items_total 2.0
"""

METRICS_AFTER = """\
# TYPE demoapp_store_write_seconds histogram
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.001"} 51.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.01"} 92.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="0.1"} 102.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="create",le="+Inf"} 102.0
demoapp_store_write_seconds_count{engine="sqlite",op="create"} 102.0
demoapp_store_write_seconds_sum{engine="sqlite",op="create"} 0.5
demoapp_store_write_seconds_bucket{engine="sqlite",op="delete",le="0.001"} 0.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="delete",le="0.01"} 0.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="delete",le="0.1"} 0.0
demoapp_store_write_seconds_bucket{engine="sqlite",op="delete",le="+Inf"} 0.0
# TYPE demoapp_store_errors_total counter
demoapp_store_errors_total{engine="sqlite",kind="locked"} 8.0
demoapp_store_errors_total{engine="sqlite",kind="other"} 1.0
"""


def test_metrics_delta_sums_ops_and_counts_lock_errors() -> None:
    delta = MetricsSnapshot.parse(METRICS_AFTER).since(MetricsSnapshot.parse(METRICS_BEFORE))
    assert delta.write_count == 100
    assert delta.locked_errors == 7
    assert delta.errors_by_kind["other"] == 1
    # 50 of 100 writes took <= 1 ms, 90 <= 10 ms, all <= 100 ms.
    assert delta.write_quantile(0.5) == pytest.approx(0.001)
    assert delta.write_quantile(0.99) == pytest.approx(0.01 + 0.09 * 9 / 10)


def test_metrics_without_store_metrics_are_empty() -> None:
    snapshot = MetricsSnapshot.parse("# TYPE demoapp_items_total gauge\ndemoapp_items_total 3.0\n")
    assert snapshot.write_count == 0
    assert snapshot.locked_errors == 0
    assert snapshot.write_quantile(0.99) is None


def test_quantile_interpolates_inside_the_bucket() -> None:
    buckets = {0.005: 0.0, 0.01: 10.0, math.inf: 10.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.0075)
    assert histogram_quantile(1.0, buckets) == pytest.approx(0.01)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, {0.1: 5.0, math.inf: 10.0}) == 0.1


def test_quantile_of_an_empty_histogram_is_none() -> None:
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.5, {}) is None


@pytest.mark.parametrize(
    ("quantile", "buckets"),
    [(1.5, {math.inf: 1.0}), (-0.1, {math.inf: 1.0}), (0.5, {0.1: 1.0})],
)
def test_quantile_rejects_bad_input(quantile: float, buckets: dict[float, float]) -> None:
    with pytest.raises(ValueError):
        histogram_quantile(quantile, buckets)


@given(
    counts=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8),
    low=st.floats(min_value=0, max_value=1),
    high=st.floats(min_value=0, max_value=1),
)
def test_quantiles_are_monotonic_and_inside_the_buckets(counts: list[int], low: float, high: float) -> None:
    bounds = [0.001 * 2**index for index in range(len(counts))]
    cumulative, running = {}, 0
    for bound, count in zip(bounds, counts, strict=True):
        running += count
        cumulative[bound] = float(running)
    cumulative[math.inf] = float(running + 3)
    low, high = sorted((low, high))
    low_value, high_value = histogram_quantile(low, cumulative), histogram_quantile(high, cumulative)
    assert low_value is not None and high_value is not None
    assert 0 <= low_value <= high_value <= bounds[-1]


def _event(kind: str, address: str | None, at: str, **extra: Any) -> Event:
    raw: dict[str, Any] = {"@level": "info", "@message": f"{address}: {kind}", "@timestamp": at, "type": kind}
    if kind.startswith("apply_"):
        raw["hook"] = {"resource": {"addr": address, "resource_type": "demoapp_item"}, "action": "create"}
    raw.update(extra)
    event = Event.parse(json.dumps(raw))
    assert event is not None
    return event


def test_observer_times_creates_and_names_failed_resources_with_their_error() -> None:
    done: list[int] = []
    observer = ApplyObserver(lambda: done.append(1))
    for event in [
        _event("apply_start", "demoapp_item.stress[0]", "2026-11-27T07:30:00.100000Z"),
        _event("apply_start", "demoapp_item.stress[1]", "2026-11-27T07:30:00.100000Z"),
        _event("apply_complete", "demoapp_item.stress[0]", "2026-11-27T07:30:00.350000Z"),
        _event("apply_errored", "demoapp_item.stress[1]", "2026-11-27T07:30:00.400000Z"),
        _event(
            "diagnostic",
            None,
            "2026-11-27T07:30:00.400000Z",
            diagnostic={
                "severity": "error",
                "summary": "Could not create the item",
                "detail": "503: store busy: database is locked",
                "address": "demoapp_item.stress[1]",
            },
        ),
    ]:
        observer(event)
    assert len(done) == 2
    assert observer.created == 1
    assert observer.create_quantile(0.5) == pytest.approx(0.25)
    failures = observer.failures(resources=2)
    assert failures == [
        Failure("demoapp_item.stress[1]", "Could not create the item: 503: store busy: database is locked")
    ]


def test_observer_counts_every_resource_failed_when_the_apply_fails_before_any() -> None:
    observer = ApplyObserver()
    observer(
        _event(
            "diagnostic",
            None,
            "2026-11-27T07:30:00Z",
            diagnostic={"severity": "error", "summary": "Invalid provider configuration", "detail": ""},
        )
    )
    failures = observer.failures(resources=3)
    assert len(failures) == 3
    assert failures[0].error == "Invalid provider configuration"


def _state(*ids: str) -> list[dict[str, Any]]:
    resources = [{"type": "demoapp_item", "values": {"id": item_id}} for item_id in ids]
    return [*resources, {"type": "demoapp_display", "values": {"id": "display"}}]


def test_state_and_server_agree() -> None:
    server = [{"id": 1, "name": "stress-0"}, {"id": 2, "name": "stress-1"}]
    found = compare_state_and_server(_state("1", "2"), server)
    assert found == {
        "state_ids": 2,
        "server_ids": 2,
        "missing_on_server": [],
        "orphans_on_server": [],
        "duplicate_names": [],
    }


def test_state_and_server_disagreements_are_named() -> None:
    server = [{"id": 1, "name": "stress-0"}, {"id": 3, "name": "stress-0"}, {"id": 10, "name": "stress-2"}]
    found = compare_state_and_server(_state("1", "2", "10"), server)
    assert found["missing_on_server"] == ["2"]
    assert found["orphans_on_server"] == ["3"]
    assert found["duplicate_names"] == ["stress-0"]


def test_items_config_uses_our_provider_with_retries_from_a_variable() -> None:
    config = items_config(7)
    assert config["terraform"]["required_providers"]["demoapp"] == {
        "source": "demoapp/demoapp",
        "version": "0.1.0",
    }
    assert config["provider"]["demoapp"]["retries"] == "${var.retries}"
    assert config["resource"]["demoapp_item"]["stress"]["count"] == 7
    assert "demoapp_display" in config["resource"]


def _run(
    engine: str,
    parallelism: int,
    retries: int | None,
    *,
    wall: float = 2.0,
    failed: int = 0,
    items: int = 200,
    p99: float | None = 0.05,
    repeat: int = 1,
) -> StressRun:
    resources = items if retries is None else items + 1
    return StressRun(
        engine=engine,
        parallelism=parallelism,
        retries=retries,
        repeat=repeat,
        items=items,
        resources=resources,
        wall_seconds=wall,
        created=resources - failed,
        failures=[
            Failure(f"demoapp_item.stress[{index}]", "store busy: database is locked")
            for index in range(failed)
        ],
        create_p99_seconds=p99,
        locked_errors=None if retries is None else failed,
    )


def _sweep() -> list[StressRun]:
    return [
        _run(BASELINE_ENGINE, 1, None, wall=4.0),
        _run(BASELINE_ENGINE, 10, None, wall=1.0),
        _run(BASELINE_ENGINE, 50, None, wall=1.0),
        _run("lsm", 1, 0, wall=8.0),
        _run("lsm", 10, 0, wall=1.3),
        _run("lsm", 50, 0, wall=1.25),
        _run("sqlite", 1, 0, wall=8.0),
        _run("sqlite", 10, 0, wall=1.5, failed=3),
        _run("sqlite", 50, 0, wall=1.5, failed=40, p99=0.02),
        _run("sqlite", 50, 5, wall=3.0, p99=1.5),
    ]


def test_tuner_names_where_sqlite_breaks() -> None:
    lines = recommendations(group_runs(_sweep()))
    assert any(
        line.startswith("sqlite breaks at -parallelism=10 with --retries 0: 3 of 201 creates failed")
        and "held at -parallelism=1" in line
        for line in lines
    ), lines


def test_tuner_says_sqlite_held_when_it_never_failed() -> None:
    runs = [_run("sqlite", 1, 0), _run("sqlite", 10, 0)]
    assert (
        "did not fail with --retries 0 at any parallelism measured (up to 10)"
        in recommendations(group_runs(runs))[0]
    )


def test_tuner_finds_where_throughput_stops_growing() -> None:
    lines = recommendations(group_runs(_sweep()))
    assert any(
        line.startswith("lsm (retries 0): throughput stops growing beyond -parallelism=10") for line in lines
    )


def test_tuner_prices_retries() -> None:
    lines = recommendations(group_runs(_sweep()))
    retry_lines = [line for line in lines if "--retries 5 took failures from 40 to 0" in line]
    assert len(retry_lines) == 1
    assert "+1.50 s apply time (+100%)" in retry_lines[0]
    assert "create p99 0.020 s -> 1.500 s" in retry_lines[0]


def test_tuner_reports_the_terraform_data_ratio_against_the_target() -> None:
    lines = recommendations(group_runs(_sweep()))
    assert any(
        "lsm (retries 0), 200 items at -parallelism=50: 1.25x" in line and "meets" in line for line in lines
    )
    slow = [*_sweep()[:3], _run("lsm", 50, 0, wall=2.0)]
    assert any(
        "2.00x" in line and "misses the 1.5x target" in line for line in recommendations(group_runs(slow))
    )


def test_tuner_recommends_the_fastest_clean_setting() -> None:
    assert recommendations(group_runs(_sweep()))[-1].startswith(
        "Recommended: --store lsm with -parallelism=50"
    )


def test_tuner_never_advises_a_setting_that_failed_at_some_parallelism() -> None:
    runs = [
        _run("lsm", 10, 0, wall=2.0),
        _run("lsm", 50, 0, wall=1.9),
        _run("sqlite", 10, 0, wall=1.5, failed=2),
        _run("sqlite", 50, 0, wall=1.0),
    ]
    lines = recommendations(group_runs(runs))
    assert lines[-1].startswith("Recommended: --store lsm with -parallelism=50"), lines
    assert not any(line.startswith("sqlite (retries 0): throughput") for line in lines)


def test_plateau_needs_ten_percent_more_to_count_as_growth() -> None:
    groups = group_runs(
        [_run("lsm", 1, 0, wall=8.0), _run("lsm", 10, 0, wall=2.0), _run("lsm", 50, 0, wall=1.9)]
    )
    plateau = throughput_plateau(groups)
    assert plateau is not None and plateau.parallelism == 10
    growing = group_runs(
        [_run("lsm", 1, 0, wall=8.0), _run("lsm", 10, 0, wall=2.0), _run("lsm", 50, 0, wall=1.0)]
    )
    assert throughput_plateau(growing) is None
    assert throughput_plateau(growing[:1]) is None


def test_groups_take_the_median_and_the_worst_failure_count() -> None:
    runs = [
        _run("sqlite", 10, 0, wall=1.0, failed=0, repeat=1),
        _run("sqlite", 10, 0, wall=3.0, failed=5, repeat=2),
        _run("sqlite", 10, 0, wall=2.0, failed=1, repeat=3),
    ]
    (group,) = group_runs(runs)
    assert group.wall_seconds == 2.0
    assert group.failed == 5
    assert group.errors == ["store busy: database is locked"]


def test_ratio_compares_with_terraform_data_at_the_same_parallelism() -> None:
    groups = group_runs(_sweep())
    sqlite_50 = next(group for group in groups if group.engine == "sqlite" and group.parallelism == 50)
    assert baseline_ratio(sqlite_50, groups) == pytest.approx(1.5)


def test_results_round_trip_through_json_and_csv(tmp_path: Path) -> None:
    runs = _sweep()
    advice = recommendations(group_runs(runs))
    json_path, csv_path = write_results(tmp_path, runs, {"items": 200}, advice)
    document = json.loads(json_path.read_text())
    assert document["settings"] == {"items": 200}
    assert document["recommendations"] == advice
    assert read_runs(json_path) == runs
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == len(runs)
    sqlite_50 = next(row for row in rows if row["engine"] == "sqlite" and row["parallelism"] == "50")
    assert sqlite_50["failed"] == "40"
    assert sqlite_50["first_error"] == "store busy: database is locked"
    group_ratios = {
        (g["engine"], g["parallelism"], g["retries"]): g["ratio_to_terraform_data"]
        for g in document["groups"]
    }
    assert group_ratios[("lsm", 50, 0)] == pytest.approx(1.25)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = plot(group_runs(_sweep()), tmp_path / "plot" / "stress.png", "test sweep")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--engine", "oracle"], "argument --engine: engines are lsm, memory, sqlite"),
        (["--parallelism", "0,10"], "argument --parallelism: values must be between 1 and 500"),
        (["--parallelism", "ten"], "argument --parallelism: expected comma-separated integers"),
        (["--retries", "99"], "argument --retries: values must be between 0 and 20"),
        (["--items", "0"], "argument --items: must be between 1 and 5000"),
        (["--workers", "x"], "argument --workers: expected an integer"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["stress", *arguments])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error


def test_an_interrupted_sweep_still_reports_what_it_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run_then_interrupt(sweep: stress.Sweep) -> list[StressRun]:
        sweep.runs.append(_run("lsm", 10, 0))
        raise KeyboardInterrupt

    monkeypatch.setattr(stress.Sweep, "run", run_then_interrupt)
    out = tmp_path / "results"
    code = cli.main(["--work", str(tmp_path / "work"), "stress", "--local", "--out", str(out)])
    assert code == cli.EXIT_INTERRUPTED
    (results,) = out.glob("*/results.json")
    assert read_runs(results) == [_run("lsm", 10, 0)]
