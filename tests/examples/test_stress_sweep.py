"""The stress sweep for real: terraform applies our provider's items against fresh services, CI-sized.

What issue 5 asks the sweep to show:
- sqlite with `--retries 0` fails some creates at -parallelism >= 10 ("database is locked");
- provider retries absorb those failures (none left) at a latency cost;
- lsm and memory fail nothing at any parallelism up to 100 with 200 items, and state and server agree.

The services are local processes (`--local`); one container run checks the image path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import docker
import pytest

from examples.harness import cli
from examples.harness._stress_results import BASELINE_ENGINE, Group, StressRun, group_runs, read_runs
from examples.harness._stress_service import STRESS_LABEL

pytestmark = [
    pytest.mark.terraform,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
]

SweepOutcome = tuple[list[StressRun], dict[str, Any]]
ITEMS = 200
# sqlite's collisions are a race, so a single apply may get through: on an idle machine all of 10 applies of
# 200 items at -parallelism 10 and 50 failed 1 to 6 creates, but on a loaded one (load average 7 on 2
# cores) one of two at -parallelism 10 failed none. Three repeats, judged by the worst, keep the
# assertion as strong while making a miss unlikely.
SQLITE_ITEMS = 200
SQLITE_REPEATS = 3
RETRIES = 5


def _sweep(tmp_path: Path, *arguments: str) -> SweepOutcome:
    """`demoapp stress ... --local` through the CLI; returns the runs and the document it wrote."""
    out = tmp_path / "results"
    code = cli.main(["--work", str(tmp_path / "work"), "stress", "--local", "--out", str(out), *arguments])
    assert code == 0
    (results,) = out.glob("*/results.json")
    assert (results.parent / "results.csv").is_file()
    assert (results.parent / "stress.png").read_bytes()[:4] == b"\x89PNG"
    return read_runs(results), json.loads(results.read_text())


def _group(groups: list[Group], engine: str, parallelism: int, retries: int | None) -> Group:
    return next(g for g in groups if (g.engine, g.parallelism, g.retries) == (engine, parallelism, retries))


@pytest.fixture(scope="module")
def kv_sweep(tmp_path_factory: pytest.TempPathFactory) -> SweepOutcome:
    return _sweep(
        tmp_path_factory.mktemp("kv"),
        *("--items", str(ITEMS), "--engine", "lsm,memory", "--parallelism", "1,10,50,100", "--retries", "0"),
    )


@pytest.fixture(scope="module")
def sqlite_sweep(tmp_path_factory: pytest.TempPathFactory) -> SweepOutcome:
    return _sweep(
        tmp_path_factory.mktemp("sqlite"),
        *("--items", str(SQLITE_ITEMS), "--engine", "sqlite", "--parallelism", "10,50"),
        *("--retries", f"0,{RETRIES}", "--repeat", str(SQLITE_REPEATS), "--no-baseline"),
    )


@pytest.mark.parametrize("engine", ["lsm", "memory"])
def test_kv_engines_fail_nothing_up_to_parallelism_100(kv_sweep: SweepOutcome, engine: str) -> None:
    runs = [run for run in kv_sweep[0] if run.engine == engine]
    assert sorted(run.parallelism for run in runs) == [1, 10, 50, 100]
    for run in runs:
        assert run.failures == [], f"{engine} P={run.parallelism}: {run.failures[:3]}"
        assert run.created == ITEMS + 1
        assert run.state_ids == run.server_ids == ITEMS
        assert run.agree, (run.missing_on_server, run.orphans_on_server, run.duplicate_names)
        assert run.locked_errors == 0
        assert run.server_writes is not None and run.server_writes >= ITEMS
        assert run.server_write_p99_seconds is not None
        assert run.destroy_errors == []
        assert run.left_after_destroy == 0


def test_the_sweep_measures_terraform_data_and_prints_the_ratio(
    kv_sweep: SweepOutcome,
) -> None:
    runs, document = kv_sweep
    baseline = [run for run in runs if run.engine == BASELINE_ENGINE]
    assert sorted(run.parallelism for run in baseline) == [1, 10, 50, 100]
    assert all(run.created == ITEMS and not run.failures for run in baseline)
    ratios = {(g["engine"], g["parallelism"]): g["ratio_to_terraform_data"] for g in document["groups"]}
    assert ratios[("lsm", 50)] > 0
    recommendations = document["recommendations"]
    assert any("lsm (retries 0), 200 items at -parallelism=50" in line for line in recommendations)
    assert any("throughput" in line for line in recommendations)


def test_sqlite_breaks_at_parallelism_10_without_retries(
    sqlite_sweep: SweepOutcome,
) -> None:
    groups = group_runs(sqlite_sweep[0])
    for parallelism in (10, 50):
        broken = _group(groups, "sqlite", parallelism, 0)
        assert broken.failed > 0, f"sqlite did not fail at -parallelism={parallelism} with --retries 0"
        assert any("database is locked" in error for error in broken.errors), broken.errors
        assert broken.locked_errors is not None and broken.locked_errors >= broken.failed
        # The failed creates stored nothing: state and server still agree.
        assert broken.agree
    recommendations = sqlite_sweep[1]["recommendations"]
    assert any(line.startswith("sqlite breaks at -parallelism=10") for line in recommendations)


def test_retries_absorb_sqlite_failures_at_a_latency_cost(
    sqlite_sweep: SweepOutcome,
) -> None:
    groups = group_runs(sqlite_sweep[0])
    for parallelism in (10, 50):
        unretried = _group(groups, "sqlite", parallelism, 0)
        retried = _group(groups, "sqlite", parallelism, RETRIES)
        assert retried.failed == 0, retried.errors
        assert retried.agree
        # The server still hit the lock: the provider's retries hid it from terraform.
        assert retried.locked_errors is not None and retried.locked_errors > 0
        assert retried.create_p99_seconds is not None and unretried.create_p99_seconds is not None
        assert retried.create_p99_seconds > unretried.create_p99_seconds
    recommendations = sqlite_sweep[1]["recommendations"]
    assert any(f"--retries {RETRIES} took failures from" in line for line in recommendations)


@pytest.mark.docker
def test_the_container_service_path(
    tmp_path: Path, service_image: str, docker_client: docker.DockerClient
) -> None:
    out = tmp_path / "results"
    arguments = ["--items", "20", "--engine", "lsm", "--parallelism", "10", "--retries", "0", "--no-baseline"]
    code = cli.main(
        ["--work", str(tmp_path), "stress", "--image", service_image, "--out", str(out), *arguments]
    )
    assert code == 0
    (results,) = out.glob("*/results.json")
    (run,) = read_runs(results)
    assert run.failures == []
    assert run.agree and run.server_ids == 20
    assert docker_client.containers.list(all=True, filters={"label": STRESS_LABEL}) == []
