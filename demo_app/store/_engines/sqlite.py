"""``sqlite``: stdlib sqlite3 on an in-memory database with a shared cache.

This reproduces, on purpose, the design that failed for the Go project: one connection per thread on a
shared-cache in-memory database. Concurrent writers collide on SQLite's table locks and get "database is
locked"; that surfaces as StoreBusy (503), after at most a short, bounded wait, never as a hang.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from .base import SEQUENCE_PREFIX, Engine, StoreBusy, StoreError

_T = TypeVar("_T")
_instances = itertools.count(1)
# SQLite's own busy handler bound: it waits at most this long for a lock before giving up.
BUSY_TIMEOUT_SECONDS = 0.1


class SqliteEngine(Engine):
    name = "sqlite"
    offload_to_thread = True

    def __init__(self) -> None:
        self._uri = f"file:demoapp-{id(self)}-{next(_instances)}?mode=memory&cache=shared"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        # This first connection keeps the in-memory database alive for the engine's lifetime.
        self._keeper = self._connection()
        self._keeper.execute("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL)")

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._uri,
                uri=True,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _run(self, operation: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        connection = self._connection()
        try:
            if not write:
                return operation(connection)
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = operation(connection)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return result
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreBusy("database is locked") from error
            raise StoreError(f"sqlite: {error}") from error
        except sqlite3.Error as error:
            raise StoreError(f"sqlite: {error}") from error

    def get(self, key: bytes) -> bytes | None:
        def fetch(connection: sqlite3.Connection) -> bytes | None:
            row = connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            return None if row is None else bytes(row[0])

        return self._run(fetch, write=False)

    def put(self, key: bytes, value: bytes) -> None:
        self._run(
            lambda c: c.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value)),
            write=True,
        )

    def replace(self, key: bytes, value: bytes) -> bool:
        return self._run(
            lambda c: c.execute("UPDATE kv SET value = ? WHERE key = ?", (value, key)).rowcount > 0,
            write=True,
        )

    def delete(self, key: bytes) -> bool:
        return self._run(lambda c: c.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount > 0, write=True)

    def scan(
        self, prefix: bytes, after: bytes | None = None, limit: int | None = None
    ) -> list[tuple[bytes, bytes]]:
        start = after if after is not None and after >= prefix else prefix
        operator = ">" if start == after else ">="

        def collect(connection: sqlite3.Connection) -> list[tuple[bytes, bytes]]:
            rows = connection.execute(
                f"SELECT key, value FROM kv WHERE key {operator} ? AND substr(key, 1, ?) = ? "
                "ORDER BY key LIMIT ?",
                (start, len(prefix), prefix, -1 if limit is None else limit),
            )
            return [(bytes(key), bytes(value)) for key, value in rows]

        return self._run(collect, write=False)

    def next_sequence(self, name: bytes) -> int:
        return self._run(lambda c: _increment(c, name), write=True)

    def create(self, sequence: bytes, record: Callable[[int], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        def insert(connection: sqlite3.Connection) -> tuple[bytes, bytes]:
            pair = record(_increment(connection, sequence))
            connection.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", pair)
            return pair

        # One transaction: a record that fails to build or store rolls the counter back too.
        return self._run(insert, write=True)

    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        def apply(connection: sqlite3.Connection) -> None:
            connection.executemany("DELETE FROM kv WHERE key = ?", [(key,) for key in deletes])
            connection.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", list(puts.items()))

        self._run(apply, write=True)

    def ping(self) -> None:
        self._run(lambda c: c.execute("SELECT 1").fetchone(), write=False)

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


def _increment(connection: sqlite3.Connection, name: bytes) -> int:
    row = connection.execute(
        "INSERT INTO kv (key, value) VALUES (?, CAST('1' AS BLOB)) ON CONFLICT (key) DO UPDATE "
        "SET value = CAST(CAST(value AS INTEGER) + 1 AS BLOB) RETURNING value",
        (SEQUENCE_PREFIX + name,),
    ).fetchone()
    return int(row[0])
