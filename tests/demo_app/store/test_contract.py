"""One contract for every store engine (and lsm persistent on disk as well as ephemeral)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from demo_app.store import (
    SEQUENCE_PREFIX,
    Engine,
    LsmEngine,
    StoreBusy,
    StoreError,
    ephemeral_directory,
    open_store,
)

KINDS = ["memory", "lsm", "lsm-persistent", "sqlite"]


@pytest.fixture(params=KINDS)
def make_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    engines: list[Engine] = []

    def make() -> Engine:
        kind: str = request.param
        engine = open_store("lsm", tmp_path / "data") if kind == "lsm-persistent" else open_store(kind)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[[], Engine]) -> Engine:
    return make_engine()


def test_get_put_overwrite_and_missing(engine: Engine) -> None:
    assert engine.get(b"k") is None
    engine.put(b"k", b"v1")
    engine.put(b"k", b"v2")
    assert engine.get(b"k") == b"v2"
    engine.put(b"bin", bytes(range(256)))
    assert engine.get(b"bin") == bytes(range(256))
    engine.put(b"empty", b"")
    assert engine.get(b"empty") == b""


def test_replace_only_existing(engine: Engine) -> None:
    assert engine.replace(b"k", b"v") is False
    assert engine.get(b"k") is None
    engine.put(b"k", b"v")
    assert engine.replace(b"k", b"w") is True
    assert engine.get(b"k") == b"w"


def test_delete_reports_whether_it_existed(engine: Engine) -> None:
    engine.put(b"k", b"v")
    assert engine.delete(b"k") is True
    assert engine.delete(b"k") is False
    assert engine.get(b"k") is None


def test_prefix_scan_is_ordered_bounded_and_exclusive(engine: Engine) -> None:
    for key in (b"item/03", b"item/01", b"item/02", b"itemz", b"a", b"item/10"):
        engine.put(key, key.upper())
    assert [k for k, _ in engine.scan(b"item/")] == [b"item/01", b"item/02", b"item/03", b"item/10"]
    assert engine.scan(b"item/", limit=2) == [(b"item/01", b"ITEM/01"), (b"item/02", b"ITEM/02")]
    assert [k for k, _ in engine.scan(b"item/", after=b"item/02")] == [b"item/03", b"item/10"]
    assert [k for k, _ in engine.scan(b"item/", after=b"item/025", limit=1)] == [b"item/03"]
    assert engine.scan(b"item/", after=b"item/10") == []
    assert engine.scan(b"nothing/") == []
    # An `after` before the prefix starts the scan at the prefix.
    assert [k for k, _ in engine.scan(b"item/", after=b"a", limit=1)] == [b"item/01"]


def test_prefix_scan_with_high_bytes(engine: Engine) -> None:
    for key in (b"a\xff", b"a\xff\x00", b"a\xff\xff\x01", b"b", b"\xff\xff"):
        engine.put(key, b"v")
    assert [k for k, _ in engine.scan(b"a\xff")] == [b"a\xff", b"a\xff\x00", b"a\xff\xff\x01"]
    assert [k for k, _ in engine.scan(b"a\xff", after=b"a\xff", limit=1)] == [b"a\xff\x00"]
    assert [k for k, _ in engine.scan(b"\xff")] == [b"\xff\xff"]
    assert [k for k, _ in engine.scan(b"a", after=b"c")] == []
    assert len(engine.scan(b"")) == 5


def test_sequence_starts_at_one_and_is_per_name(engine: Engine) -> None:
    assert [engine.next_sequence(b"items") for _ in range(3)] == [1, 2, 3]
    assert engine.next_sequence(b"other") == 1
    assert engine.get(SEQUENCE_PREFIX + b"items") == b"3"


def _item(item_id: int) -> tuple[bytes, bytes]:
    return b"item/%020d" % item_id, b'{"id": %d}' % item_id


def test_create_stores_the_record_built_from_the_next_sequence_value(engine: Engine) -> None:
    assert [engine.create(b"items", _item) for _ in range(3)] == [_item(1), _item(2), _item(3)]
    assert engine.get(b"item/%020d" % 2) == b'{"id": 2}'
    assert engine.get(SEQUENCE_PREFIX + b"items") == b"3"
    assert engine.next_sequence(b"items") == 4, "create and next_sequence share the counter"
    assert engine.create(b"other", _item) == _item(1)


def test_create_whose_record_fails_writes_nothing(engine: Engine) -> None:
    def broken(item_id: int) -> tuple[bytes, bytes]:
        raise ValueError(item_id)

    engine.create(b"items", _item)
    with pytest.raises(ValueError):
        engine.create(b"items", broken)
    assert engine.scan(b"") == [(SEQUENCE_PREFIX + b"items", b"1"), _item(1)]
    assert engine.create(b"items", _item) == _item(2), "the failed create did not use up an id"


def test_create_follows_the_counter_as_any_write_left_it(engine: Engine, tmp_path: Path) -> None:
    counter = SEQUENCE_PREFIX + b"items"
    engine.create(b"items", _item)
    engine.backup(tmp_path / "one")
    engine.create(b"items", _item)
    engine.put(counter, b"10")
    assert engine.create(b"items", _item) == _item(11)
    engine.batch({counter: b"20"})
    assert engine.create(b"items", _item) == _item(21)
    engine.replace(counter, b"30")
    assert engine.next_sequence(b"items") == 31
    engine.delete(counter)
    assert engine.create(b"items", _item) == _item(1)
    engine.restore(tmp_path / "one")
    assert engine.create(b"items", _item) == _item(2)


def test_batch_applies_puts_and_deletes_together(engine: Engine) -> None:
    engine.put(b"old", b"1")
    engine.batch({b"a": b"1", b"b": b"2"}, [b"old", b"never-existed"])
    assert engine.scan(b"") == [(b"a", b"1"), (b"b", b"2")]


def test_backup_then_restore_replaces_everything(engine: Engine, tmp_path: Path) -> None:
    engine.put(b"keep", b"1")
    engine.next_sequence(b"items")
    backup = tmp_path / "store.backup"
    engine.backup(backup)
    engine.put(b"later", b"2")
    engine.put(b"keep", b"changed")
    engine.restore(backup)
    assert engine.scan(b"") == [(SEQUENCE_PREFIX + b"items", b"1"), (b"keep", b"1")]
    assert engine.next_sequence(b"items") == 2, "the sequence continues after a restore"


@pytest.mark.parametrize("target", ["memory", "lsm", "sqlite"])
def test_backup_restores_into_any_engine(engine: Engine, target: str, tmp_path: Path) -> None:
    engine.put(b"x", b"\x00\xff")
    engine.backup(tmp_path / "b")
    other = open_store(target)
    try:
        other.restore(tmp_path / "b")
        assert other.scan(b"") == [(b"x", b"\x00\xff")]
    finally:
        other.close()


def test_restore_refuses_what_is_not_a_backup(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(StoreError):
        engine.restore(tmp_path / "junk")


def test_ping_answers(engine: Engine) -> None:
    engine.ping()


def test_sequence_is_atomic_under_threads(engine: Engine) -> None:
    if engine.name == "sqlite":
        pytest.skip("sqlite collides on purpose: see test_sqlite_parallel_writes_lock_and_fail_fast")
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(lambda _: engine.next_sequence(b"items"), range(2000)))
    assert sorted(ids) == list(range(1, 2001))


def test_create_is_atomic_under_threads(engine: Engine) -> None:
    if engine.name == "sqlite":
        pytest.skip("sqlite collides on purpose: see test_sqlite_parallel_writes_lock_and_fail_fast")
    with ThreadPoolExecutor(max_workers=16) as pool:
        pairs = list(pool.map(lambda _: engine.create(b"items", _item), range(2000)))
    assert sorted(pairs) == [_item(item_id) for item_id in range(1, 2001)]
    assert engine.scan(b"item/") == sorted(pairs), "every created record is stored"


def test_ephemeral_lsm_lives_in_a_private_directory_removed_on_close() -> None:
    engine = open_store("lsm")
    assert isinstance(engine, LsmEngine)
    directory = engine.directory
    if Path("/dev/shm").is_dir():
        assert directory.parent == Path("/dev/shm"), "ephemeral data goes to tmpfs when there is one"
    assert directory.stat().st_mode & 0o077 == 0, "the directory is private to its owner"
    engine.put(b"k", b"v")
    engine.close()
    assert not directory.exists()


def test_ephemeral_lsm_removes_directories_of_dead_processes() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    probe = ephemeral_directory()
    probe.rmdir()
    parent = probe.parent
    leftover = parent / f"demoapp-lsm-{gone.pid}-leftover"
    leftover.mkdir()
    (leftover / "demoapp.ldb").write_bytes(b"x")
    alive = parent / f"demoapp-lsm-{os.getpid()}-alive"
    alive.mkdir()
    try:
        engine = open_store("lsm")
        engine.close()
        assert not leftover.exists(), "the directory of a process that is gone is removed"
        assert alive.exists(), "a live process keeps its directory"
    finally:
        shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)


def test_persistent_lsm_keeps_data_across_reopen(tmp_path: Path) -> None:
    first = open_store("lsm", tmp_path)
    first.put(b"k", b"v")
    assert first.next_sequence(b"items") == 1
    first.close()
    second = open_store("lsm", tmp_path)
    try:
        assert second.get(b"k") == b"v"
        assert second.next_sequence(b"items") == 2
    finally:
        second.close()
    assert tmp_path.exists(), "closing a persistent store keeps its files"


def test_persistent_lsm_commits_writes_that_follow_a_failed_batch(tmp_path: Path) -> None:
    first = open_store("lsm", tmp_path)
    with pytest.raises(TypeError):
        first.batch({b"a": b"1", b"b": None})  # type: ignore[dict-item]
    assert first.scan(b"") == [], "a failed batch writes nothing"
    first.put(b"k", b"v")
    first.close()
    second = open_store("lsm", tmp_path)
    try:
        assert second.scan(b"") == [(b"k", b"v")], "the failed batch left no transaction open"
    finally:
        second.close()


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown store engine"):
        open_store("redis")


def test_sqlite_parallel_writes_lock_and_fail_fast() -> None:
    """The Go project's failure, reproduced: parallel writers on one shared-cache in-memory database see
    "database is locked". Each failure is a StoreBusy that arrives within the bounded busy wait."""
    engine = open_store("sqlite")
    outcomes: list[str] = []
    durations: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def write(index: int) -> None:
        barrier.wait()
        for step in range(50):
            started = time.monotonic()
            try:
                engine.batch({b"item/%d/%d" % (index, step): b"x" * 200})
                result = "ok"
            except StoreBusy as error:
                assert str(error) == "database is locked"
                result = "locked"
            with lock:
                outcomes.append(result)
                durations.append(time.monotonic() - started)

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(write, range(16)))
    finally:
        engine.close()
    assert "locked" in outcomes, "parallel writers must collide on the shared cache"
    assert "ok" in outcomes
    assert max(durations) < 5, "a lock conflict fails fast instead of hanging"
