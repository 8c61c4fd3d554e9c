"""The catalog's clock: RFC 3339 text in UTC, as items, the display and /health carry it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from demo_app import _catalog

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def test_utc_now_is_rfc3339_with_microseconds_and_the_current_time() -> None:
    text = _catalog.utc_now()
    assert RFC3339_UTC.fullmatch(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 2


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (1795773275.999999, "2026-11-27T09:54:35.999999Z"),
        (1795773276.000001, "2026-11-27T09:54:36.000001Z"),  # the next second: a new prefix
        (1795773276.5, "2026-11-27T09:54:36.500000Z"),
        (1795773276.9999996, "2026-11-27T09:54:37.000000Z"),  # rounds up into the next second
        (1798761599.25, "2026-12-31T23:59:59.250000Z"),
    ],
)
def test_utc_now_follows_the_seconds(monkeypatch: pytest.MonkeyPatch, now: float, expected: str) -> None:
    clock = _catalog._UtcNow()
    monkeypatch.setattr(_catalog.time, "time", lambda: 1795773275.5)
    assert clock() == "2026-11-27T09:54:35.500000Z"
    monkeypatch.setattr(_catalog.time, "time", lambda: now)
    assert clock() == expected
    assert clock() == datetime.fromtimestamp(now, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )
