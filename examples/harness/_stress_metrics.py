"""The service's `/metrics`, as the stress test needs it: store write latency and store errors.

A snapshot is taken before and after each apply; their difference is what that apply cost the server.
Quantiles are computed from histogram buckets the way Prometheus' `histogram_quantile` does (linear
interpolation inside the bucket holding the rank), so they are as precise as the bucket layout allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

WRITE_HISTOGRAM = "demoapp_store_write_seconds"
ERRORS_COUNTER = "demoapp_store_errors"
LOCKED_KIND = "locked"


@dataclass(frozen=True)
class MetricsSnapshot:
    """Store write latency buckets (cumulative counts by upper bound, summed over engines and ops) and
    store error counts by kind."""

    write_buckets: Mapping[float, float] = field(default_factory=dict)
    errors_by_kind: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> MetricsSnapshot:
        buckets: dict[float, float] = {}
        errors: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            if family.name == WRITE_HISTOGRAM:
                for sample in family.samples:
                    if sample.name == f"{WRITE_HISTOGRAM}_bucket":
                        bound = float(sample.labels["le"])
                        buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif family.name == ERRORS_COUNTER:
                for sample in family.samples:
                    if sample.name == f"{ERRORS_COUNTER}_total":
                        kind = sample.labels.get("kind", "")
                        errors[kind] = errors.get(kind, 0.0) + sample.value
        return cls(buckets, errors)

    def since(self, earlier: MetricsSnapshot) -> MetricsSnapshot:
        """What happened between `earlier` and this snapshot (counters only grow within one process)."""
        buckets = {
            bound: count - earlier.write_buckets.get(bound, 0.0)
            for bound, count in self.write_buckets.items()
        }
        errors = {
            kind: count - earlier.errors_by_kind.get(kind, 0.0) for kind, count in self.errors_by_kind.items()
        }
        return MetricsSnapshot(buckets, errors)

    @property
    def write_count(self) -> int:
        return int(self.write_buckets.get(math.inf, 0.0))

    @property
    def locked_errors(self) -> int:
        return int(self.errors_by_kind.get(LOCKED_KIND, 0.0))

    def write_quantile(self, quantile: float) -> float | None:
        return histogram_quantile(quantile, self.write_buckets)


def histogram_quantile(quantile: float, buckets: Mapping[float, float]) -> float | None:
    """The `quantile` (0..1) of a histogram given as cumulative counts by upper bound (`+Inf` included).

    None when the histogram is empty or absent (no buckets). A rank falling in the `+Inf` bucket gives the
    highest finite bound, as in Prometheus: the histogram cannot tell more.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile}")
    ordered = sorted(buckets.items())
    if not ordered:
        return None
    if ordered[-1][0] != math.inf:
        raise ValueError("a histogram needs a +Inf bucket")
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank and count > lower_count:
            if bound == math.inf:
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
