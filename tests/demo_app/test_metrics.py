"""The service's own collectors expose exactly what prometheus-client's Counter and Histogram do."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from demo_app._metrics import _STORE_BUCKETS, _RequestMetrics, _StoreWrites

OBSERVATIONS = [
    ("POST", "/api/items", 201, 0.00002),
    ("POST", "/api/items", 400, 0.004),
    ("GET", "/health", 200, 0.005),  # on a bucket bound: counted in that bucket
    ("GET", "/api/items/{id}", 404, 0.3),
    ("POST", "/api/items", 201, 12.0),  # above every finite bound
    ("GET", "/health", 200, 0.0051),
]


def _without_timestamps(exposition: bytes) -> str:
    return re.sub(r"^(\S*_created\{.*\}) \S+$", r"\1 <time>", exposition.decode(), flags=re.MULTILINE)


def test_exposition_matches_the_library_counter_and_histogram() -> None:
    reference = CollectorRegistry()
    requests = Counter(
        "demoapp_http_requests_total", "HTTP requests", ["method", "path", "status"], registry=reference
    )
    durations = Histogram(
        "demoapp_http_request_duration_seconds",
        "HTTP request duration",
        ["method", "path"],
        registry=reference,
    )
    own = CollectorRegistry()
    collector = _RequestMetrics()
    own.register(collector)
    for method, route, status, seconds in OBSERVATIONS:
        requests.labels(method, route, str(status)).inc()
        durations.labels(method, route).observe(seconds)
        collector.observe(method, route, status, seconds)
    expected = _without_timestamps(generate_latest(reference))
    assert (
        'demoapp_http_request_duration_seconds_bucket{le="0.005",method="GET",path="/health"} 1.0' in expected
    )
    assert _without_timestamps(generate_latest(own)) == expected


def test_no_request_yet_exposes_the_families_without_series() -> None:
    own = CollectorRegistry()
    own.register(_RequestMetrics())
    text = generate_latest(own).decode()
    assert "# TYPE demoapp_http_requests_total counter" in text
    assert "# TYPE demoapp_http_request_duration_seconds histogram" in text
    assert "{" not in text


def test_store_write_exposition_matches_the_library_histogram() -> None:
    reference = CollectorRegistry()
    writes = Histogram(
        "demoapp_store_write_seconds",
        "Store write latency",
        ["engine", "op"],
        registry=reference,
        buckets=_STORE_BUCKETS,
    )
    own = CollectorRegistry()
    collector = _StoreWrites()
    own.register(collector)
    for op, seconds in [
        ("create", 0.000003),
        ("create", 0.0001),
        ("put", 0.3),
        ("delete", 2.0),
        ("create", 0.0),
    ]:
        writes.labels("lsm", op).observe(seconds)
        collector.timer("lsm", op).observe(seconds)
    writes.labels("lsm", "batch")  # a series created but never observed shows as zeros
    collector.timer("lsm", "batch")
    assert _without_timestamps(generate_latest(own)) == _without_timestamps(generate_latest(reference))
