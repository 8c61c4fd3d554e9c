"""``lsm``: SQLite4's LSM engine through lsm-db, the default store.

One handle per process, guarded by a lock (an LSM connection must not be used by two threads at once).
Several processes may open the same directory with ``multiple_processes``: LSM then locks the file,
and a write that loses a race with another process gets LSM_BUSY, which is retried.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import lsm

from .base import SEQUENCE_PREFIX, Engine, StoreBusy, StoreError

_T = TypeVar("_T")
_DB_FILE = "demoapp.ldb"
# How long a write keeps retrying LSM_BUSY from other processes before answering 503.
_BUSY_DEADLINE_SECONDS = 2.0


class LsmEngine(Engine):
    name = "lsm"
    shareable_across_processes = True

    def __init__(
        self,
        directory: Path,
        *,
        ephemeral: bool,
        remove_on_close: bool = False,
        multiple_processes: bool = False,
    ) -> None:
        self.directory = directory
        self.ephemeral = ephemeral
        self.remove_on_close = remove_on_close
        self.multiple_processes = multiple_processes
        directory.mkdir(parents=True, exist_ok=True)
        # An ephemeral store trades durability for speed: no fsync, nothing to survive.
        self._db = lsm.LSM(
            str(directory / _DB_FILE),
            multiple_processes=multiple_processes,
            write_safety=lsm.SAFETY_OFF if ephemeral else lsm.SAFETY_NORMAL,
        )
        self._lock = threading.Lock()

    def _read(self, operation: Callable[[], _T]) -> _T:
        with self._lock:
            try:
                return operation()
            except (OSError, RuntimeError) as error:
                raise StoreError(f"lsm: {error}") from error

    def _write(self, operation: Callable[[], _T]) -> _T:
        """Run ``operation`` in one write transaction, retrying when another process holds the lock."""
        deadline = time.monotonic() + _BUSY_DEADLINE_SECONDS
        with self._lock:
            while True:
                self._db.begin()
                try:
                    result = operation()
                    self._db.commit()
                    return result
                except (OSError, RuntimeError) as error:
                    self._db.rollback()
                    if not self.multiple_processes or time.monotonic() > deadline:
                        raise StoreBusy(f"lsm: {error}") from error
                    time.sleep(0.0005)
                except BaseException:
                    self._db.rollback()
                    raise

    def _fetch(self, key: bytes) -> bytes | None:
        try:
            value: bytes = self._db[key]
        except KeyError:
            return None
        return value

    def get(self, key: bytes) -> bytes | None:
        return self._read(lambda: self._fetch(key))

    def put(self, key: bytes, value: bytes) -> None:
        self._write(lambda: self._db.insert(key, value))

    def replace(self, key: bytes, value: bytes) -> bool:
        def replace_existing() -> bool:
            if self._fetch(key) is None:
                return False
            self._db.insert(key, value)
            return True

        return self._write(replace_existing)

    def delete(self, key: bytes) -> bool:
        def delete_existing() -> bool:
            if self._fetch(key) is None:
                return False
            self._db.delete(key)
            return True

        return self._write(delete_existing)

    def scan(
        self, prefix: bytes, after: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        def collect() -> list[tuple[bytes, bytes]]:
            result: list[tuple[bytes, bytes]] = []
            start = after if after is not None and after >= prefix else prefix
            with self._db.cursor() as cursor:
                try:
                    cursor.seek(start, lsm.SEEK_GE)
                except KeyError:
                    return result
                while cursor.is_valid():
                    key = cursor.key()
                    if not key.startswith(prefix) or (limit is not None and len(result) >= limit):
                        break
                    if key != after:
                        result.append((key, cursor.value()))
                    try:
                        cursor.next()
                    except StopIteration:
                        break
            return result

        return self._read(collect)

    def next_sequence(self, name: bytes) -> int:
        key = SEQUENCE_PREFIX + name

        def increment() -> int:
            value = int(self._fetch(key) or b"0") + 1
            self._db.insert(key, b"%d" % value)
            return value

        return self._write(increment)

    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        def apply() -> None:
            for key in deletes:
                self._db.delete(key)
            for key, value in puts.items():
                self._db.insert(key, value)

        self._write(apply)

    def ping(self) -> None:
        self._read(lambda: self._fetch(SEQUENCE_PREFIX))

    def close(self) -> None:
        with self._lock:
            if self._db.is_open:
                self._db.close()
        if self.remove_on_close:
            shutil.rmtree(self.directory, ignore_errors=True)

    def describe(self) -> dict[str, object]:
        return {
            "engine": self.name,
            "persistent": not self.ephemeral,
            "multiple_processes": self.multiple_processes,
        }
