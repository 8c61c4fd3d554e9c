"""Durations as Go's `time.ParseDuration` reads them ("1m30s", "1.5h", "250ms"), in seconds."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError when Go would refuse it. A bare "0" is zero, as in Go."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    seconds = 0.0
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}: expected a number and a unit (ns, us, ms, s, m, h)")
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return -seconds if text.startswith("-") else seconds
