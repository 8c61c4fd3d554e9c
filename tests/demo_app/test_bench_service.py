"""`make bench` (bench.service): wrk's output is read right, and a short real run writes its JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.service import BenchError, parse_wrk, python_time_per_request

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:18092/api/items
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.50ms   11.65ms 130.46ms   96.35%
    Req/Sec     4.33k   512.00     5.10k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.10ms
     90%    8.30ms
     99%    1.20s
  43102 requests in 5.01s, 9.87MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   8616.41
Transfer/sec:      1.97MB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    assert parse_wrk(WRK_OUTPUT) == {
        "requests_per_second": 8616.41,
        "p50_ms": 0.812,
        "p99_ms": 1200.0,
        "requests": 43102,
        "non_2xx": 7,
        "socket_errors": 5,
    }


def test_parse_wrk_refuses_unexpected_output() -> None:
    with pytest.raises(BenchError, match="Requests/sec"):
        parse_wrk("wrk: connection refused")


@pytest.mark.parametrize("store", ["lsm", "memory"])
def test_in_process_time_per_request_drives_the_rsgi_app(
    store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    times = python_time_per_request(store, "info", requests=50, rounds=2)
    assert set(times) == {"post", "health"}
    assert all(0 < us < 100_000 for us in times.values())
    print("stdout is back")
    out = capfd.readouterr().out
    assert "stdout is back" in out
    assert "demo_app.access" not in out, "the access log of the in-process run is discarded"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_short_bench_run_prints_and_writes_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.service",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--output",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert "req/s" in result.stdout
    [written] = list(tmp_path.glob("service-*-lsm.json"))
    document = json.loads(written.read_text())
    assert [row["load"] for row in document["results"]] == ["ceiling", "post", "list", "health"]
    for row in document["results"]:
        assert row["requests_per_second"] > 0
        assert row["non_2xx"] == 0
        assert row["p50_ms"] <= row["p99_ms"]
        assert row["server_cpu_us_per_request"] > 0
    assert set(document["python_us_per_request_in_process"]) == {"post", "health"}
