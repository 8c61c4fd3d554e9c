"""Items and the display, as records in a store engine.

Items live under ``item/<20-digit id>`` so key order is numeric order; their values are the item's JSON
as served, so a list is a join of stored values with no re-encoding. The display is one record: a JSON
metadata line, a newline, then the document exactly as it was put.

A create sent with an idempotency key also writes ``idempotency/<key>`` in the same batch as the item:
the request's fingerprint, a newline, then the 201 body as first answered. A retry of a create whose
answer was lost then replays that answer instead of creating a second item. Records are kept (backups
carry them), also after their item is deleted: a replay answers the first 201 body whatever happened
to the item since, as a repeated request must get the same answer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from .store import Engine

ITEM_PREFIX = b"item/"
IDEMPOTENCY_PREFIX = b"idempotency/"
_DISPLAY_KEY = b"display"
_ITEM_SEQUENCE = b"items"

#: The current time as RFC 3339 text in UTC with microseconds, as items and the display carry it.
Clock = Callable[[], str]


class _UtcNow:
    """The wall clock as RFC 3339 text. Making and formatting a datetime costs about 1.5 us, half of an
    lsm create, on every create and health probe: the text is built from ``time.time()`` and a
    date-and-seconds prefix made once a second (kept in one tuple, so threads never pair a prefix with
    another second's fraction)."""

    def __init__(self) -> None:
        self._second_and_prefix = (-1, "")

    def __call__(self) -> str:
        # Rounded to the microsecond, as datetime does (a float second has no exact microseconds).
        second, microsecond = divmod(round(time.time() * 1_000_000), 1_000_000)
        cached_second, prefix = self._second_and_prefix
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second_and_prefix = (second, prefix)
        return f"{prefix}.{microsecond:06d}Z"


utc_now: Clock = _UtcNow()


def item_key(item_id: int) -> bytes:
    return ITEM_PREFIX + b"%020d" % item_id


def canonical_hash(document: Any) -> str:
    """The display hash of the contract: sha256 of the canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyConflict(Exception):
    """The idempotency key was first used for a create with a different name or description."""


@dataclass(frozen=True, slots=True)
class Created:
    body: bytes
    #: True when the key had been seen: ``body`` is the first answer and nothing was written now.
    replayed: bool


@dataclass(slots=True)
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    holders: int = 0


class _KeyLocks:
    """One lock per idempotency key in use, dropped when its last holder leaves, so only requests that
    share a key wait for one another (creates with different keys keep their full concurrency)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, _KeyLock] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, _KeyLock())
            entry.holders += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.holders -= 1
                if not entry.holders:
                    del self._locks[key]


def _fingerprint(name: str, description: str | None) -> bytes:
    return hashlib.sha256(orjson.dumps([name, description])).hexdigest().encode()


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
        self._key_locks = _KeyLocks()

    # Items -------------------------------------------------------------------------------------------

    def _new_item(self, name: str, description: str | None, item_id: int) -> tuple[bytes, bytes]:
        now = self._clock()
        body = orjson.dumps(
            {"id": item_id, "name": name, "description": description, "created_at": now, "updated_at": now}
        )
        return item_key(item_id), body

    def create_item(self, name: str, description: str | None) -> bytes:
        # One store write: the id is taken and the item stored under one lock hold.
        _, body = self.engine.create(_ITEM_SEQUENCE, partial(self._new_item, name, description))
        return body

    def create_item_once(self, idempotency_key: str, name: str, description: str | None) -> Created:
        """Create the item unless ``idempotency_key`` was used before: then answer the first 201 body, or
        raise IdempotencyConflict when that create had another name or description.

        Check and create must not interleave for one key. One process owns the store (the service
        refuses more workers), so a process lock is enough: with the sqlite engine handlers run in a
        thread pool and really contend for it; with the others they run on the event loop one at a time.
        """
        record_key = IDEMPOTENCY_PREFIX + idempotency_key.encode()
        fingerprint = _fingerprint(name, description)
        with self._key_locks.hold(idempotency_key):
            record = self.engine.get(record_key)
            if record is not None:
                first_fingerprint, _, first_body = record.partition(b"\n")
                if first_fingerprint != fingerprint:
                    raise IdempotencyConflict(idempotency_key)
                return Created(first_body, replayed=True)
            key, body = self._new_item(name, description, self.engine.next_sequence(_ITEM_SEQUENCE))
            # One batch: no item is stored without its key record, so every acknowledged create replays.
            self.engine.batch({key: body, record_key: fingerprint + b"\n" + body})
            return Created(body, replayed=False)

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
        item["updated_at"] = self._clock()
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
        meta = DisplayMeta(hash=canonical_hash(parsed), updated_at=self._clock(), size=len(document))
        self.engine.put(_DISPLAY_KEY, meta.as_json() + b"\n" + document)
        return meta

    def delete_display(self) -> bool:
        return self.engine.delete(_DISPLAY_KEY)
