"""Items and the display, as records in a store engine.

Items live under ``item/<20-digit id>`` so key order is numeric order; their values are the item's JSON
as served, so a list is a join of stored values with no re-encoding. The display is one record: a JSON
metadata line, a newline, then the document exactly as it was put.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .store import Engine

ITEM_PREFIX = b"item/"
_DISPLAY_KEY = b"display"
_ITEM_SEQUENCE = b"items"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def item_key(item_id: int) -> bytes:
    return ITEM_PREFIX + b"%020d" % item_id


def canonical_hash(document: Any) -> str:
    """The display hash of the contract: sha256 of the canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DisplayMeta:
    hash: str
    updated_at: str
    size: int

    def as_json(self) -> bytes:
        return orjson.dumps({"hash": self.hash, "updated_at": self.updated_at, "size": self.size})


class Catalog:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self._clock = clock

    # Items -------------------------------------------------------------------------------------------

    def create_item(self, name: str, description: str | None) -> bytes:
        item_id = self.engine.next_sequence(_ITEM_SEQUENCE)
        now = rfc3339(self._clock())
        body = orjson.dumps(
            {"id": item_id, "name": name, "description": description, "created_at": now, "updated_at": now}
        )
        self.engine.put(item_key(item_id), body)
        return body

    def get_item(self, item_id: int) -> bytes | None:
        return self.engine.get(item_key(item_id))

    def list_items(self, after: int | None, limit: int | None) -> tuple[list[bytes], bool]:
        """Items in id order after ``after``, at most ``limit``; and whether more remain."""
        pairs = self.engine.scan(
            ITEM_PREFIX,
            after=None if after is None else item_key(after),
            limit=None if limit is None else limit + 1,
        )
        more = limit is not None and len(pairs) > limit
        return [value for _, value in (pairs[:limit] if more else pairs)], more

    def count_items(self) -> int:
        return len(self.engine.scan(ITEM_PREFIX))

    def update_item(self, item_id: int, changes: dict[str, Any]) -> bytes | None:
        """Apply ``changes`` (name and/or description) to an existing item; None when it is unknown."""
        key = item_key(item_id)
        stored = self.engine.get(key)
        if stored is None:
            return None
        item = orjson.loads(stored)
        item.update(changes)
        item["updated_at"] = rfc3339(self._clock())
        body = orjson.dumps(item)
        # Deleted meanwhile: the update must not resurrect it.
        return body if self.engine.replace(key, body) else None

    def delete_item(self, item_id: int) -> bool:
        return self.engine.delete(item_key(item_id))

    # Display -----------------------------------------------------------------------------------------

    def get_display(self) -> tuple[bytes, DisplayMeta] | None:
        record = self.engine.get(_DISPLAY_KEY)
        if record is None:
            return None
        header, _, document = record.partition(b"\n")
        return document, DisplayMeta(**orjson.loads(header))

    def put_display(self, document: bytes, parsed: Any) -> DisplayMeta:
        meta = DisplayMeta(hash=canonical_hash(parsed), updated_at=rfc3339(self._clock()), size=len(document))
        self.engine.put(_DISPLAY_KEY, meta.as_json() + b"\n" + document)
        return meta

    def delete_display(self) -> bool:
        return self.engine.delete(_DISPLAY_KEY)
