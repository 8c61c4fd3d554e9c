"""``memory``: a dict guarded by a lock. Lives and dies with one process."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Mapping

from .base import SEQUENCE_PREFIX, Engine


class MemoryEngine(Engine):
    name = "memory"

    def __init__(self) -> None:
        self._values: dict[bytes, bytes] = {}
        # Keys kept sorted on write so scans cost O(result), not a sort per request.
        self._keys: list[bytes] = []
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        return self._values.get(key)

    def _put_locked(self, key: bytes, value: bytes) -> None:
        if key not in self._values:
            if not self._keys or key > self._keys[-1]:
                self._keys.append(key)
            else:
                bisect.insort(self._keys, key)
        self._values[key] = value

    def _delete_locked(self, key: bytes) -> bool:
        if self._values.pop(key, None) is None:
            return False
        del self._keys[bisect.bisect_left(self._keys, key)]
        return True

    def put(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._put_locked(key, value)

    def replace(self, key: bytes, value: bytes) -> bool:
        with self._lock:
            if key not in self._values:
                return False
            self._values[key] = value
            return True

    def delete(self, key: bytes) -> bool:
        with self._lock:
            return self._delete_locked(key)

    def scan(
        self, prefix: bytes, after: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        with self._lock:
            keys = self._keys
            start = bisect.bisect_right(keys, after) if after is not None and after >= prefix else 0
            start = max(start, bisect.bisect_left(keys, prefix))
            result: list[tuple[bytes, bytes]] = []
            values = self._values
            for index in range(start, len(keys)):
                key = keys[index]
                if not key.startswith(prefix) or (limit is not None and len(result) >= limit):
                    break
                result.append((key, values[key]))
            return result

    def next_sequence(self, name: bytes) -> int:
        with self._lock:
            key = SEQUENCE_PREFIX + name
            value = int(self._values.get(key, b"0")) + 1
            self._put_locked(key, b"%d" % value)
            return value

    def create(self, sequence: bytes, record: Callable[[int], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        with self._lock:
            counter = SEQUENCE_PREFIX + sequence
            value = int(self._values.get(counter, b"0")) + 1
            key, stored = pair = record(value)
            self._put_locked(counter, b"%d" % value)
            self._put_locked(key, stored)
            return pair

    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        with self._lock:
            for key in deletes:
                self._delete_locked(key)
            for key, value in puts.items():
                self._put_locked(key, value)

    def ping(self) -> None:
        with self._lock:
            pass

    def close(self) -> None:
        with self._lock:
            self._values.clear()
            self._keys.clear()
