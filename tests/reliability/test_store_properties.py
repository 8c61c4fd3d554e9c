"""Every store engine behaves like a sorted dict: random sequences of put, replace, delete, batch, get,
prefix scan (with `after` and `limit`), sequences and backup/restore, checked step by step against a
model dict. Also a backup of each engine restored into every other engine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from demo_app.store import ENGINES, SEQUENCE_PREFIX, Engine, open_store
from tests.reliability.conftest import Tally

# A small alphabet so keys share prefixes and collide often; values may hold any byte.
KEYS = st.binary(min_size=1, max_size=6).map(lambda raw: bytes(b"ab/z"[byte % 4] for byte in raw))
VALUES = st.binary(max_size=64)
PREFIXES = st.one_of(st.just(b""), KEYS.map(lambda key: key[:2]), st.just(SEQUENCE_PREFIX))
SEQUENCE_NAMES = st.sampled_from([b"items", b"other"])
RUNS_PER_ENGINE = 60
STEPS_PER_RUN = 40


def _model_scan(
    model: dict[bytes, bytes], prefix: bytes, after: bytes | None, limit: int | None
) -> list[tuple[bytes, bytes]]:
    pairs = [
        (key, model[key])
        for key in sorted(model)
        if key.startswith(prefix) and (after is None or key > after)
    ]
    return pairs if limit is None else pairs[:limit]


def machine_for(engine_name: str, steps: list[int]) -> type[RuleBasedStateMachine]:
    class StoreMachine(RuleBasedStateMachine):
        keys = Bundle("keys")

        def __init__(self) -> None:
            super().__init__()
            self.engine: Engine = open_store(engine_name)
            self.model: dict[bytes, bytes] = {}
            self.folder = Path(tempfile.mkdtemp(prefix="store-backup-"))
            self.backups: list[tuple[Path, dict[bytes, bytes]]] = []

        def teardown(self) -> None:
            self.engine.close()
            shutil.rmtree(self.folder, ignore_errors=True)

        def _step(self) -> None:
            steps[0] += 1

        @rule(target=keys, key=KEYS, value=VALUES)
        def put(self, key: bytes, value: bytes) -> bytes:
            self._step()
            self.engine.put(key, value)
            self.model[key] = value
            return key

        @rule(key=st.one_of(keys, KEYS), value=VALUES)
        def replace(self, key: bytes, value: bytes) -> None:
            self._step()
            assert self.engine.replace(key, value) == (key in self.model)
            if key in self.model:
                self.model[key] = value

        @rule(key=st.one_of(keys, KEYS))
        def delete(self, key: bytes) -> None:
            self._step()
            assert self.engine.delete(key) == (key in self.model)
            self.model.pop(key, None)

        @rule(key=st.one_of(keys, KEYS))
        def get(self, key: bytes) -> None:
            self._step()
            assert self.engine.get(key) == self.model.get(key)

        @rule(
            puts=st.dictionaries(KEYS, VALUES, max_size=5),
            deletes=st.lists(st.one_of(keys, KEYS), max_size=3),
        )
        def batch(self, puts: dict[bytes, bytes], deletes: list[bytes]) -> None:
            self._step()
            self.engine.batch(puts, deletes)
            for key in deletes:
                self.model.pop(key, None)
            self.model.update(puts)

        @rule(
            prefix=PREFIXES,
            after=st.one_of(st.none(), keys, KEYS),
            limit=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
        )
        def scan(self, prefix: bytes, after: bytes | None, limit: int | None) -> None:
            self._step()
            assert self.engine.scan(prefix, after=after, limit=limit) == _model_scan(
                self.model, prefix, after, limit
            )

        @rule(name=SEQUENCE_NAMES)
        def sequence(self, name: bytes) -> None:
            self._step()
            key = SEQUENCE_PREFIX + name
            expected = int(self.model.get(key, b"0")) + 1
            assert self.engine.next_sequence(name) == expected
            self.model[key] = b"%d" % expected

        @rule()
        def backup(self) -> None:
            self._step()
            path = self.folder / f"backup-{len(self.backups)}"
            self.engine.backup(path)
            self.backups.append((path, dict(self.model)))

        @precondition(lambda self: bool(self.backups))
        @rule(which=st.integers(min_value=0))
        def restore(self, which: int) -> None:
            self._step()
            path, snapshot = self.backups[which % len(self.backups)]
            self.engine.restore(path)
            self.model = dict(snapshot)

        @invariant()
        def whole_content_matches(self) -> None:
            assert self.engine.scan(b"") == sorted(self.model.items())
            # Paging through everything, one small page after another, gives the same content.
            for limit in (1, 3):
                pages: list[tuple[bytes, bytes]] = []
                while page := self.engine.scan(b"", after=pages[-1][0] if pages else None, limit=limit):
                    assert len(page) <= limit
                    pages.extend(page)
                assert pages == sorted(self.model.items()), f"paging with limit {limit}"

    StoreMachine.__name__ = f"StoreMachine_{engine_name}"
    return StoreMachine


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_matches_a_model_dict(engine: str, tally: Tally) -> None:
    steps = [0]
    run_state_machine_as_test(
        machine_for(engine, steps),
        settings=settings(
            max_examples=RUNS_PER_ENGINE,
            stateful_step_count=STEPS_PER_RUN,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    tally.cases = steps[0]
    tally.notes.update(engine=engine, runs=RUNS_PER_ENGINE)
    assert steps[0] > RUNS_PER_ENGINE


@pytest.mark.parametrize("source", ENGINES)
@pytest.mark.parametrize("target", ENGINES)
def test_backup_restores_into_any_engine(source: str, target: str, tmp_path: Path, tally: Tally) -> None:
    pairs = {b"item/%020d" % n: b'{"id":%d}' % n for n in range(1, 300)} | {b"display": b"\x00\xff binary"}
    origin, destination = open_store(source), open_store(target)
    try:
        origin.batch(pairs)
        origin.next_sequence(b"items")
        destination.put(b"stale", b"must disappear")
        origin.backup(tmp_path / "backup")
        destination.restore(tmp_path / "backup")
        assert destination.scan(b"") == origin.scan(b"")
        assert destination.next_sequence(b"items") == 2
    finally:
        origin.close()
        destination.close()
    tally.cases = len(pairs)
