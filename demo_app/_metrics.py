"""Prometheus metrics, from prometheus-client, in the service's own registry (one process serves)."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from time import perf_counter, time
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import INF, floatToGoString

from .store import Engine, StoreBusy, StoreError

_T = TypeVar("_T")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STORE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _LiveGauges(Collector):
    """Values computed at scrape time, so they are right whatever process answers the scrape."""

    def __init__(self, version: str, engine: str, count_items: Callable[[], int]) -> None:
        self._version = version
        self._engine = engine
        self._count_items = count_items

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "demoapp_info", "Service version and store engine", labels=["version", "engine"]
        )
        info.add_metric([self._version, self._engine], 1)
        yield info
        try:
            count = self._count_items()
        except StoreError:
            return
        yield GaugeMetricFamily("demoapp_items_total", "Items currently stored", value=count)


class _Histogram:
    """One histogram series: observations per bucket (not cumulative), their sum, and its creation time."""

    __slots__ = ("bucket_counts", "created", "total")

    def __init__(self, buckets: int) -> None:
        self.bucket_counts = [0] * buckets
        self.total = 0.0
        self.created = time()


def _bounds(buckets: Iterable[float]) -> list[float]:
    bounds = [float(bound) for bound in buckets]
    return bounds if bounds[-1] == INF else [*bounds, INF]


def _add_histogram(
    metric: Metric, labels: dict[str, str], bounds: list[float], histogram: _Histogram
) -> None:
    """The samples prometheus-client's Histogram exposes for one series."""
    counts = list(histogram.bucket_counts)  # one read, while writers may go on
    cumulative = 0
    for bound, count in zip(bounds, counts, strict=True):
        cumulative += count
        metric.add_sample(f"{metric.name}_bucket", {**labels, "le": floatToGoString(bound)}, cumulative)
    metric.add_sample(f"{metric.name}_count", labels, cumulative)
    metric.add_sample(f"{metric.name}_sum", labels, histogram.total)
    metric.add_sample(f"{metric.name}_created", labels, histogram.created)


class _Requests:
    """The counter series of one (method, route, status), with its route's histogram series."""

    __slots__ = ("count", "created", "durations")

    def __init__(self, durations: _Histogram) -> None:
        self.count = 0
        self.created = time()
        self.durations = durations


class _RequestMetrics(Collector):
    """``demoapp_http_requests_total{method,path,status}`` and
    ``demoapp_http_request_duration_seconds{method,path}``, exposed exactly as a prometheus-client
    Counter and Histogram expose them.

    Those take a lock for every value they change (three per request, about 2 us: a tenth of a small
    POST). Requests are recorded only on the event loop's thread, so plain numbers suffice here, and
    one dict lookup per request finds both series.
    """

    def __init__(self, buckets: Iterable[float] = Histogram.DEFAULT_BUCKETS) -> None:
        self._bounds = _bounds(buckets)
        self._requests: dict[tuple[str, str, int], _Requests] = {}
        self._durations: dict[tuple[str, str], _Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        requests = self._requests.get((method, route, status))
        if requests is None:
            requests = self._requests[(method, route, status)] = self._new_series(method, route)
        requests.count += 1
        durations = requests.durations
        durations.bucket_counts[bisect_left(self._bounds, seconds)] += 1
        durations.total += seconds

    def _new_series(self, method: str, route: str) -> _Requests:
        durations = self._durations.get((method, route))
        if durations is None:
            durations = self._durations[(method, route)] = _Histogram(len(self._bounds))
        return _Requests(durations)

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "demoapp_http_requests", "HTTP requests", labels=["method", "path", "status"]
        )
        for (method, route, status), series in list(self._requests.items()):
            requests.add_metric([method, route, str(status)], series.count, created=series.created)
        yield requests
        durations = Metric("demoapp_http_request_duration_seconds", "HTTP request duration", "histogram")
        for (method, route), histogram in list(self._durations.items()):
            _add_histogram(durations, {"method": method, "path": route}, self._bounds, histogram)
        yield durations


class StoreWriteTimer:
    """One (engine, op) series of ``demoapp_store_write_seconds``.

    Store writes run on the store's threads too (sqlite), so observing takes a lock; one for the whole
    observation, where prometheus-client's Histogram takes two.
    """

    def __init__(self, bounds: list[float]) -> None:
        self._bounds = bounds
        self.histogram = _Histogram(len(bounds))
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        index = bisect_left(self._bounds, seconds)
        histogram = self.histogram
        with self._lock:
            histogram.bucket_counts[index] += 1
            histogram.total += seconds


class _StoreWrites(Collector):
    """``demoapp_store_write_seconds{engine,op}``, exposed exactly as a prometheus-client Histogram."""

    def __init__(self) -> None:
        self._bounds = _bounds(_STORE_BUCKETS)
        self._timers: dict[tuple[str, str], StoreWriteTimer] = {}

    def timer(self, engine: str, op: str) -> StoreWriteTimer:
        return self._timers.setdefault((engine, op), StoreWriteTimer(self._bounds))

    def collect(self) -> Iterator[Metric]:
        writes = Metric("demoapp_store_write_seconds", "Store write latency", "histogram")
        for (engine, op), timer in list(self._timers.items()):
            _add_histogram(writes, {"engine": engine, "op": op}, self._bounds, timer.histogram)
        yield writes


class Metrics:
    def __init__(self, version: str, engine: str, count_items: Callable[[], int]) -> None:
        self.registry = own = CollectorRegistry()
        self.registry.register(_LiveGauges(version, engine, count_items))
        requests = _RequestMetrics()
        self.registry.register(requests)
        self.observe_request = requests.observe
        self._store_writes = _StoreWrites()
        self.registry.register(self._store_writes)
        self.store_write_timer = self._store_writes.timer
        self.store_errors = Counter(
            "demoapp_store_errors_total",
            "Store errors (kind=locked for lock/busy)",
            ["engine", "kind"],
            registry=own,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class InstrumentedEngine(Engine):
    """Wraps an engine to time its writes, count the failures of its reads and writes, and count writes
    (``generation``).

    One process owns the store, so ``generation`` changes whenever the content may have changed: the
    service keys its list cache and ETags on it.
    """

    def __init__(self, inner: Engine, metrics: Metrics) -> None:
        self.inner = inner
        self.name = inner.name
        self.offload_to_thread = inner.offload_to_thread
        self._metrics = metrics
        timer = metrics.store_write_timer
        self._put_timer = timer(inner.name, "put")
        self._replace_timer = timer(inner.name, "replace")
        self._delete_timer = timer(inner.name, "delete")
        self._sequence_timer = timer(inner.name, "sequence")
        self._create_timer = timer(inner.name, "create")
        self._batch_timer = timer(inner.name, "batch")
        self._locked = metrics.store_errors.labels(inner.name, "locked")
        self._failed = metrics.store_errors.labels(inner.name, "error")
        self.generation = 0

    def _count_failure(self, error: StoreError) -> None:
        (self._locked if isinstance(error, StoreBusy) else self._failed).inc()

    def _counted(self, operation: Callable[..., _T], *args: Any) -> _T:
        try:
            return operation(*args)
        except StoreError as error:
            self._count_failure(error)
            raise

    def _timed(self, timer: StoreWriteTimer, operation: Callable[..., _T], *args: Any) -> _T:
        # The operation and its arguments, not a closure: nothing is built per call on the write path;
        # and the failures counted here as in ``_counted``, not through it: one frame less per write.
        started = perf_counter()
        try:
            return operation(*args)
        except StoreError as error:
            self._count_failure(error)
            raise
        finally:
            # After the write (even a failed one: over-invalidating is harmless), so a reader that saw
            # the old generation never caches content newer than it under a generation that lasts.
            self.generation += 1
            timer.observe(perf_counter() - started)

    def get(self, key: bytes) -> bytes | None:
        # Reads fail too (sqlite's shared cache answers "locked" at once): a create's key lookup among them.
        return self._counted(self.inner.get, key)

    def put(self, key: bytes, value: bytes) -> None:
        self._timed(self._put_timer, self.inner.put, key, value)

    def replace(self, key: bytes, value: bytes) -> bool:
        return self._timed(self._replace_timer, self.inner.replace, key, value)

    def delete(self, key: bytes) -> bool:
        return self._timed(self._delete_timer, self.inner.delete, key)

    def scan(
        self, prefix: bytes, after: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        return self._counted(self.inner.scan, prefix, after, limit)

    def next_sequence(self, name: bytes) -> int:
        return self._timed(self._sequence_timer, self.inner.next_sequence, name)

    def create(self, sequence: bytes, record: Callable[[int], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        return self._timed(self._create_timer, self.inner.create, sequence, record)

    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        self._timed(self._batch_timer, self.inner.batch, puts, deletes)

    def backup(self, path: Path) -> None:
        self.inner.backup(path)

    def restore(self, path: Path) -> None:
        self._timed(self._batch_timer, self.inner.restore, path)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()

    def describe(self) -> dict[str, object]:
        return self.inner.describe()
