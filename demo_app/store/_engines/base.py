"""The interface every store engine implements.

Keys and values are bytes. Engines are synchronous and fast; an engine whose calls may block for a
while (``sqlite`` waiting on a lock) sets ``offload_to_thread`` so the service runs it off the event loop.
"""

from __future__ import annotations

import abc
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

# Backup files are engine independent: a magic line, then (key length, value length, key, value) records.
_BACKUP_MAGIC = b"demoapp-store-backup 1\n"
_RECORD_HEADER = struct.Struct(">II")

#: Counters live in the key space (so backups carry them) under this prefix, as ASCII decimals.
SEQUENCE_PREFIX = b"\x00seq/"


class StoreError(Exception):
    """A store failure the service reports as 503."""


class StoreBusy(StoreError):
    """A transient lock conflict (SQLite's "database is locked"): the client may retry."""


class Engine(abc.ABC):
    #: The engine name as given to ``--store`` and shown in /api/system and metrics.
    name: str
    #: True when calls may block on locks, so the service runs them in a thread pool.
    offload_to_thread: bool = False

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""

    @abc.abstractmethod
    def put(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""

    @abc.abstractmethod
    def replace(self, key: bytes, value: bytes) -> bool:
        """Atomically overwrite ``key`` only if it exists; False when it does not."""

    @abc.abstractmethod
    def delete(self, key: bytes) -> bool:
        """Remove ``key``; False when it was absent."""

    @abc.abstractmethod
    def scan(
        self, prefix: bytes, after: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        """Pairs whose key starts with ``prefix``, in key order, strictly after ``after`` when given."""

    @abc.abstractmethod
    def next_sequence(self, name: bytes) -> int:
        """Atomically increment and return the counter ``name`` (the first value is 1)."""

    @abc.abstractmethod
    def create(self, sequence: bytes, record: Callable[[int], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        """Take the next value of the counter ``sequence`` (as ``next_sequence``) and store the
        ``(key, value)`` that ``record`` builds from it, as one atomic write; returns that pair.

        A create is one store write: one lock hold and one commit, where ``next_sequence`` then ``put``
        would be two. ``record`` runs while the store is held, so it must be quick and must not call the
        engine. When it raises, nothing is written and the counter does not move.
        """

    @abc.abstractmethod
    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        """Apply every put and delete atomically: all of them or none."""

    def backup(self, path: Path) -> None:
        """Write a copy of every key to ``path`` (one consistent scan)."""
        tmp = path.with_name(path.name + ".partial")
        with tmp.open("wb") as out:
            out.write(_BACKUP_MAGIC)
            for key, value in self.scan(b""):
                out.write(_RECORD_HEADER.pack(len(key), len(value)))
                out.write(key)
                out.write(value)
        tmp.replace(path)

    def restore(self, path: Path) -> None:
        """Replace the whole content, atomically, with a copy written by ``backup`` of any engine."""
        pairs = dict(_read_backup(path))
        stale = [key for key, _ in self.scan(b"") if key not in pairs]
        self.batch(pairs, stale)

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StoreError unless the store answers."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store; an ephemeral store removes its files."""

    def describe(self) -> dict[str, object]:
        """What /api/system shows about this engine."""
        return {"engine": self.name}


def _read_backup(path: Path) -> Iterator[tuple[bytes, bytes]]:
    data = path.read_bytes()
    if not data.startswith(_BACKUP_MAGIC):
        raise StoreError(f"{path} is not a demoapp store backup")
    offset = len(_BACKUP_MAGIC)
    while offset < len(data):
        key_len, value_len = _RECORD_HEADER.unpack_from(data, offset)
        offset += _RECORD_HEADER.size
        key = data[offset : offset + key_len]
        offset += key_len
        value = data[offset : offset + value_len]
        offset += value_len
        if len(key) != key_len or len(value) != value_len:
            raise StoreError(f"{path} is truncated")
        yield key, value
