"""Idempotent creates: `POST /api/items` with an `Idempotency-Key` header stores the item at most once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from demo_app import App
from demo_app.store import ENGINES, MemoryEngine, StoreBusy, open_store
from tests.demo_app.conftest import ServiceProcess
from tests.demo_app.test_api import assert_error

pytestmark = pytest.mark.anyio

KEY = "3f1c2a9e-7b4d-4e8a-9c1f-0d2e3b4a5c6d"


def keyed(key: str = KEY) -> dict[str, str]:
    return {"Idempotency-Key": key}


@pytest.mark.parametrize("store", ENGINES)
async def test_a_repeat_answers_the_first_item_and_creates_nothing(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient], store: str
) -> None:
    async with client_for(make_app(store=store)) as api:
        first = await api.post("/api/items", json={"name": "web", "description": "d"}, headers=keyed())
        assert first.status_code == 201
        assert "idempotent-replayed" not in first.headers
        again = await api.post("/api/items", json={"name": "web", "description": "d"}, headers=keyed())
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == "application/json"
        assert again.json() == first.json()
        assert [item["id"] for item in (await api.get("/api/items")).json()] == [first.json()["id"]]
        unkeyed = await api.post("/api/items", json={"name": "next"})
        assert unkeyed.json()["id"] == first.json()["id"] + 1, "the replay took no id from the sequence"


@pytest.mark.parametrize("store", ENGINES)
async def test_the_same_key_with_another_body_answers_422(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient], store: str
) -> None:
    async with client_for(make_app(store=store)) as api:
        await api.post("/api/items", json={"name": "web", "description": None}, headers=keyed())
        for other in ({"name": "db", "description": None}, {"name": "web", "description": ""}):
            assert_error(await api.post("/api/items", json=other, headers=keyed()), 422, "Idempotency-Key")
        assert len((await api.get("/api/items")).json()) == 1


async def test_body_equality_is_by_value_not_bytes(api: httpx.AsyncClient) -> None:
    """Key order, whitespace, an absent vs null description and ignored keys are the same create."""
    first = await api.post("/api/items", content=b'{"name":"a","description":null}', headers=keyed())
    again = await api.post("/api/items", content=b'{ "other": 1,  "name": "a" }', headers=keyed())
    assert again.status_code == 201 and again.json() == first.json()


@pytest.mark.parametrize(
    "key", ["", " ", "a b", "a/b", "a@b", "k\u00e9y", "x" * 129, "a,b", '"quoted"', "tab\there"]
)
async def test_an_invalid_key_answers_400_naming_the_header(api: httpx.AsyncClient, key: str) -> None:
    response = await api.post(
        "/api/items", json={"name": "a"}, headers=[(b"Idempotency-Key", key.encode("latin-1"))]
    )
    assert_error(response, 400, "Idempotency-Key")
    assert (await api.get("/api/items")).json() == []


async def test_every_allowed_character_and_the_longest_key_are_accepted(api: httpx.AsyncClient) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
    for key in (alphabet, "k" * 128, "1"):
        response = await api.post("/api/items", json={"name": key}, headers=keyed(key))
        assert response.status_code == 201, response.text
    assert len((await api.get("/api/items")).json()) == 3


async def test_different_keys_create_different_items(api: httpx.AsyncClient) -> None:
    ids = {
        (await api.post("/api/items", json={"name": "same"}, headers=keyed(key))).json()["id"]
        for key in ("one", "two", "three")
    }
    assert len(ids) == 3


async def test_a_body_error_stores_no_key(api: httpx.AsyncClient) -> None:
    assert_error(await api.post("/api/items", json={"name": ""}, headers=keyed()), 400, "name")
    created = await api.post("/api/items", json={"name": "fixed"}, headers=keyed())
    assert created.status_code == 201 and "idempotent-replayed" not in created.headers


@pytest.mark.parametrize("store", ENGINES)
async def test_fifty_concurrent_posts_with_one_key_create_one_item(
    make_app: Callable[..., App],
    client_for: Callable[[App], httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    store: str,
) -> None:
    """Store calls run in the service's thread pool (as sqlite's do) and each lookup answers 20 ms late,
    so requests check the key before the first has written it: only the per-key lock keeps it one item."""
    engine = open_store(store)
    lookup = engine.get

    def slow_lookup(key: bytes) -> bytes | None:
        found = lookup(key)
        time.sleep(0.02)  # after the read: the answer is stale by the time the caller acts on it
        return found

    monkeypatch.setattr(engine, "get", slow_lookup)
    monkeypatch.setattr(engine, "offload_to_thread", True)
    async with client_for(make_app(engine, store=store)) as api:
        responses = await asyncio.gather(
            *(api.post("/api/items", json={"name": "once"}, headers=keyed()) for _ in range(50))
        )
        assert {response.status_code for response in responses} == {201}
        assert len({response.json()["id"] for response in responses}) == 1
        replayed = [response for response in responses if "idempotent-replayed" in response.headers]
        assert len(replayed) == 49
        assert len((await api.get("/api/items")).json()) == 1


def test_fifty_concurrent_posts_to_a_real_server_create_one_item(
    service: Callable[..., ServiceProcess],
) -> None:
    """granian and the sqlite engine, 50 connections at once: one item, 49 replays."""
    server = service("--store", "sqlite", "--log-level", "warning")

    def post(_: int) -> httpx.Response:
        return httpx.post(f"{server.url}/api/items", json={"name": "once"}, headers=keyed(), timeout=30)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))
    # 503 is the sqlite engine's lock conflict: rejected before anything was stored, never a second item.
    created = [response for response in responses if response.status_code == 201]
    assert {response.status_code for response in responses} <= {201, 503}
    assert created and len({response.json()["id"] for response in created}) == 1
    replayed = [response for response in created if response.headers.get("idempotent-replayed") == "true"]
    assert len(replayed) == len(created) - 1, "the key reaches the handler through granian's headers"
    assert len(httpx.get(f"{server.url}/api/items").json()) == 1


class CountingEngine(MemoryEngine):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return super().get(key)


async def test_a_create_without_key_reads_nothing_from_the_store(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    engine = CountingEngine()
    async with client_for(make_app(engine)) as api:
        assert (await api.post("/api/items", json={"name": "fast"})).status_code == 201
        assert engine.reads == 0
        await api.post("/api/items", json={"name": "keyed"}, headers=keyed())
        assert engine.reads == 1, "the keyed path looks its key up once"


class BusyBatchEngine(MemoryEngine):
    """The first batch fails as SQLite's lock conflict does; later ones succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    def batch(self, puts: Mapping[bytes, bytes], deletes: Iterable[bytes] = ()) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise StoreBusy("database is locked")
        super().batch(puts, deletes)


async def test_a_create_that_failed_in_the_store_is_created_by_its_retry(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    async with client_for(make_app(BusyBatchEngine())) as api:
        assert_error(await api.post("/api/items", json={"name": "a"}, headers=keyed()), 503, None)
        retry = await api.post("/api/items", json={"name": "a"}, headers=keyed())
        assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
        assert [item["name"] for item in (await api.get("/api/items")).json()] == ["a"]


class BusyLookupEngine(MemoryEngine):
    def get(self, key: bytes) -> bytes | None:
        raise StoreBusy("database table is locked")


async def test_a_busy_key_lookup_answers_503_and_counts_as_a_lock_error(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    """The stress test compares failed creates with the server's lock errors: a create that fails on its
    key lookup (a read) must count like one that fails on a write."""
    async with client_for(make_app(BusyLookupEngine())) as api:
        response = await api.post("/api/items", json={"name": "a"}, headers=keyed())
        assert_error(response, 503, None)
        assert response.headers["retry-after"] == "1"
        metrics = (await api.get("/metrics")).text
        assert 'demoapp_store_errors_total{engine="memory",kind="locked"} 1.0' in metrics


@pytest.mark.parametrize("source", ENGINES)
async def test_keys_survive_backup_and_restore_into_any_engine(
    make_app: Callable[..., App],
    client_for: Callable[[App], httpx.AsyncClient],
    tmp_path: Path,
    source: str,
) -> None:
    backup = tmp_path / "store.backup"
    engine = open_store(source)
    async with client_for(make_app(engine, store=source)) as api:
        first = (await api.post("/api/items", json={"name": "kept"}, headers=keyed())).json()
    engine.backup(backup)
    for target in ENGINES:
        restored = open_store(target)
        restored.restore(backup)
        async with client_for(make_app(restored, store=target)) as api:
            again = await api.post("/api/items", json={"name": "kept"}, headers=keyed())
            assert again.headers["idempotent-replayed"] == "true" and again.json() == first, target
            assert_error(
                await api.post("/api/items", json={"name": "x"}, headers=keyed()), 422, "Idempotency-Key"
            )
            assert (await api.get("/metrics")).text.count("demoapp_items_total 1.0") == 1, (
                "key records are not items"
            )
