"""The harness's check of the live service against state: what `up`, `recover` and `status` report."""

from __future__ import annotations

import json
from typing import Any

from examples.harness import Verification

DISPLAY = json.dumps({"captured_at": "2026-11-27T07:00:00Z", "system_info": {"hostname": "abc"}})


def _state(display: str | None = DISPLAY, items: dict[str, str] | None = None) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = [
        {"mode": "managed", "type": "docker_container", "values": {"id": "c1"}},
        # The provider's data source of the same name must not be mistaken for the resource.
        {"mode": "data", "type": "demoapp_display", "values": {"id": "display", "data": "{}"}},
    ]
    if display is not None:
        resources.append(
            {"mode": "managed", "type": "demoapp_display", "values": {"id": "display", "data": display}}
        )
    for item_id, name in (items or {"1": "Demo item 1", "2": "Demo item 2"}).items():
        resources.append({"mode": "managed", "type": "demoapp_item", "values": {"id": item_id, "name": name}})
    return resources


LIVE_ITEMS = [{"id": 1, "name": "Demo item 1"}, {"id": 2, "name": "Demo item 2"}]


def test_everything_in_place() -> None:
    result = Verification.compare(_state(), DISPLAY.encode(), LIVE_ITEMS, page_ok=True)
    assert result.ok
    assert result.problems() == []
    assert result.display_captured_at == "2026-11-27T07:00:00Z"
    assert result.items_in_state == 2


def test_display_must_match_byte_for_byte() -> None:
    reordered = json.dumps(json.loads(DISPLAY), sort_keys=True, indent=1).encode()
    result = Verification.compare(_state(), reordered, LIVE_ITEMS, page_ok=True)
    assert not result.display_matches
    assert "the display differs from the payload in state" in result.problems()


def test_empty_display_after_a_restart() -> None:
    result = Verification.compare(_state(), b"{}", LIVE_ITEMS, page_ok=True)
    assert not result.ok


def test_missing_renamed_and_extra_items() -> None:
    live = [{"id": 1, "name": "Demo item 1 renamed"}, {"id": 7, "name": "added in the page"}]
    result = Verification.compare(_state(), DISPLAY.encode(), live, page_ok=True)
    assert result.items_missing == ["1 (Demo item 1)", "2 (Demo item 2)"]
    assert result.items_extra == ["7 (added in the page)"]
    assert not result.ok


def test_page_failure_is_reported() -> None:
    result = Verification.compare(_state(), DISPLAY.encode(), LIVE_ITEMS, page_ok=False)
    assert result.problems() == ["the page did not load"]


def test_no_display_in_state_never_matches() -> None:
    result = Verification.compare(_state(display=None), b"{}", LIVE_ITEMS, page_ok=True)
    assert not result.display_matches
    assert result.display_captured_at is None
