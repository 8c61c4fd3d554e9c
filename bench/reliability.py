"""`make reliability` (`python -m bench.reliability`): the fuzz, fault and security suites of
tests/reliability, with a table per suite of cases tried, faults injected and data lost, and JSON in
bench/results/reliability.json.

The suites themselves are pytest tests; each records its counts through the `tally` fixture into the
JSON-lines file named by `DEMOAPP_RELIABILITY_RECORD`, and pytest's JUnit XML gives each test's outcome.
Exit status: 0 only when no test failed and nothing was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SUITES = ROOT / "tests" / "reliability"
RECORD_ENV = "DEMOAPP_RELIABILITY_RECORD"
OUTCOMES = ("passed", "failed", "xfailed", "skipped")


@dataclass
class SuiteSummary:
    suite: str
    tests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    cases: int = 0
    faults: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)
    expected_failures: list[str] = field(default_factory=list)


def _outcomes(junit: Path) -> dict[tuple[str, str], tuple[str, str]]:
    """(suite, test name) -> (outcome, message) from pytest's JUnit XML."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        suite = case.get("classname", "").rsplit(".", 1)[-1].removeprefix("test_")
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", child.get("message", "")
            elif child.tag == "skipped":
                is_xfail = child.get("type") == "pytest.xfail"
                outcome, message = ("xfailed" if is_xfail else "skipped"), child.get("message", "")
        found[(suite, case.get("name", ""))] = (outcome, message)
    return found


def summarize(
    records: list[dict[str, Any]], outcomes: dict[tuple[str, str], tuple[str, str]]
) -> list[SuiteSummary]:
    summaries: dict[str, SuiteSummary] = {}
    for (suite, test), (outcome, message) in sorted(outcomes.items()):
        summary = summaries.setdefault(suite, SuiteSummary(suite))
        summary.tests[outcome] += 1
        line = f"{test}: {message.splitlines()[0] if message else outcome}"[:300]
        if outcome == "failed":
            summary.failures.append(line)
        elif outcome == "xfailed":
            summary.expected_failures.append(line)
    for record in records:
        summary = summaries.setdefault(record["suite"], SuiteSummary(record["suite"]))
        summary.cases += int(record["cases"])
        summary.faults += int(record["faults"])
        summary.lost += int(record["lost"])
    return list(summaries.values())


def _table(summaries: list[SuiteSummary]) -> Table:
    table = Table(title="Reliability suites: cases tried, faults injected, data lost")
    table.add_column("suite", no_wrap=True)
    for column in ("ok", "failed", "xfail", "cases", "faults", "lost"):
        table.add_column(column, justify="right", no_wrap=True)
    for summary in summaries:
        table.add_row(
            summary.suite,
            str(summary.tests["passed"]),
            str(summary.tests["failed"]),
            str(summary.tests["xfailed"]),
            f"{summary.cases:,}",
            f"{summary.faults:,}",
            str(summary.lost),
        )
    table.add_row(
        "total",
        *(str(sum(s.tests[key] for s in summaries)) for key in ("passed", "failed", "xfailed")),
        f"{sum(s.cases for s in summaries):,}",
        f"{sum(s.faults for s in summaries):,}",
        str(sum(s.lost for s in summaries)),
        style="bold",
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="select", help="pytest -k expression to run only some suites or tests")
    parser.add_argument("--output", type=Path, default=RESULTS / "reliability.json", help="JSON file")
    args = parser.parse_args(argv)

    console = Console()
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        record = Path(scratch) / "records.jsonl"
        junit = Path(scratch) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(SUITES),
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
        ]
        if args.select:
            command += ["-k", args.select]
        started = time.monotonic()
        completed = subprocess.run(
            command, cwd=ROOT, env={**os.environ, RECORD_ENV: str(record)}, check=False
        )
        seconds = time.monotonic() - started
        if not junit.exists():
            console.print(f"[red]pytest did not run the suites (exit {completed.returncode})[/red]")
            return 2
        records = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        summaries = summarize(records, _outcomes(junit))

    console.print(_table(summaries))
    for summary in summaries:
        for line in summary.failures:
            console.print(f"[red]FAILED[/red] {summary.suite}: {line}", markup=True, highlight=False)
        for line in summary.expected_failures:
            console.print(f"[yellow]known gap[/yellow] {summary.suite}: {line}", markup=True, highlight=False)
    lost = sum(summary.lost for summary in summaries)
    failed = sum(summary.tests["failed"] for summary in summaries)
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "pytest_exit": completed.returncode,
        "totals": {
            "cases": sum(s.cases for s in summaries),
            "faults": sum(s.faults for s in summaries),
            "lost": lost,
            "failed_tests": failed,
        },
        "suites": [asdict(summary) for summary in summaries],
        "records": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    console.print(f"Results: {args.output} ({seconds:.0f} s)")
    return 0 if failed == 0 and lost == 0 and completed.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
