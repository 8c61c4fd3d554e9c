"""Faults the service must survive: a crowd of concurrent writers, kill -9 with a data folder, slow
bodies and clients that vanish mid-request. A real `demo-app serve` (granian) process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from demo_app._config import BODY_READ_TIMEOUT_SECONDS
from provider.acceptance import DemoService
from tests.reliability.conftest import Tally

CLIENTS = 200
CREATES = 2000


async def _create_concurrently(url: str, clients: int, creates: int) -> list[dict[str, object]]:
    """`creates` POSTs spread over `clients` clients, each with its own connection, all at once."""
    per_client = creates // clients
    start = asyncio.Event()

    async def client(number: int) -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=1)) as api:
            await start.wait()
            made = []
            for sequence in range(per_client):
                response = await api.post("/api/items", json={"name": f"c{number}-{sequence}"})
                assert response.status_code == 201, response.text
                made.append(response.json())
            return made

    tasks = [asyncio.create_task(client(number)) for number in range(clients)]
    await asyncio.sleep(0.2)
    start.set()
    return [item for made in await asyncio.gather(*tasks) for item in made]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["lsm", "memory"])
def test_concurrent_creates_lose_nothing(
    engine: str, start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service("--store", engine)
    created = asyncio.run(_create_concurrently(service.url, CLIENTS, CREATES))
    ids = [item["id"] for item in created]
    assert len(ids) == CREATES and len(set(ids)) == CREATES, "duplicate ids"
    with service.api() as api:
        listed = api.get("/api/items").json()
        assert len(listed) == CREATES
        assert {item["id"] for item in listed} == set(ids)
        assert {item["name"] for item in listed} == {f"c{c}-{s}" for c in range(CLIENTS) for s in range(10)}
        for item in created[:: CREATES // 100]:
            assert api.get(f"/api/items/{item['id']}").json() == item
    tally.cases = CREATES
    tally.lost = CREATES - len(listed)
    tally.notes.update(engine=engine, clients=CLIENTS)


class _Writer(threading.Thread):
    """Creates, updates, deletes and display puts in a loop; remembers what the service acknowledged."""

    def __init__(self, url: str, number: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.number = number
        self.items: dict[int, str] = {}  # acknowledged id -> name
        self.deleted: set[int] = set()
        # The item of a delete or rename sent and not answered: in flight when the service was killed, it
        # may or may not have been applied, and either is right.
        self.unsettled: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as api:
            sequence = 0
            while not self.stop.is_set():
                sequence += 1
                try:
                    response = api.post("/api/items", json={"name": f"w{self.number}-{sequence}"})
                    if response.status_code == 201:
                        item = response.json()
                        self.items[item["id"]] = item["name"]
                    if sequence % 3 == 0 and self.items:
                        victim = self.unsettled = next(iter(self.items))
                        if api.delete(f"/api/items/{victim}").status_code == 204:
                            self.deleted.add(victim)
                            del self.items[victim]
                        self.unsettled = None
                    if sequence % 5 == 0 and self.items:
                        target = self.unsettled = next(reversed(self.items))
                        renamed = f"renamed-{self.number}-{sequence}"
                        if api.put(f"/api/items/{target}", json={"name": renamed}).status_code == 200:
                            self.items[target] = renamed
                        self.unsettled = None
                except httpx.TransportError:
                    return  # the service was killed


@pytest.mark.slow
def test_kill_9_keeps_every_acknowledged_write(
    start_service: Callable[..., DemoService], tmp_path: Path, tally: Tally
) -> None:
    data_dir = tmp_path / "data"
    service = start_service("--store", "lsm", "--data-dir", str(data_dir))
    port = service.port
    acknowledged: dict[int, str] = {}
    deleted: set[int] = set()
    display: dict[str, object] = {}
    kills = 3
    for round_number in range(1, kills + 1):
        with service.api() as api:
            display = {"kill": round_number, "text": "ünïcode ✓"}
            assert api.put("/api/display", json=display).status_code == 200
        writers = [_Writer(service.url, number) for number in range(8)]
        for writer in writers:
            writer.start()
        time.sleep(1.5)
        service.kill()  # SIGKILL while the writers are mid-request
        for writer in writers:
            writer.stop.set()
            writer.join(timeout=10)
            for item_id in writer.deleted:
                acknowledged.pop(item_id, None)
            deleted |= writer.deleted
            acknowledged.update(writer.items)
        service = start_service("--store", "lsm", "--data-dir", str(data_dir), port=port)
        with service.api() as api:
            live = {item["id"]: item["name"] for item in api.get("/api/items").json()}
            assert api.get("/api/display").json() == display
        for writer in writers:
            if writer.unsettled is not None:  # whichever way it went, the store now says
                if writer.unsettled in live:
                    acknowledged[writer.unsettled] = live[writer.unsettled]
                else:
                    acknowledged.pop(writer.unsettled, None)
                    deleted.add(writer.unsettled)
        missing = {item_id for item_id in acknowledged if item_id not in live}
        wrong = {item_id for item_id, name in acknowledged.items() if live.get(item_id, name) != name}
        resurrected = deleted & live.keys()
        tally.lost += len(missing) + len(wrong)
        assert not missing and not wrong and not resurrected, (missing, wrong, resurrected)
    tally.faults = kills
    tally.cases = len(acknowledged) + len(deleted)
    tally.notes.update(acknowledged_items=len(acknowledged), acknowledged_deletes=len(deleted))


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.encode())
    return sock


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


@pytest.mark.slow
def test_slow_bodies_time_out_and_others_are_served(
    start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service("--store", "lsm")
    slow_clients = 50
    started = time.monotonic()
    stalled = [
        _raw_request(
            service.port,
            "POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 100\r\n\r\n{"name": "tr',
        )
        for _ in range(slow_clients)
    ]
    with service.api() as api:
        for _ in range(20):
            assert api.get("/health", timeout=2).status_code == 200
            assert api.post("/api/items", json={"name": "served meanwhile"}, timeout=2).status_code == 201
    statuses = [_read_status(sock) for sock in stalled]
    waited = time.monotonic() - started
    for sock in stalled:
        sock.close()
    assert statuses == [408] * slow_clients
    assert BODY_READ_TIMEOUT_SECONDS <= waited < BODY_READ_TIMEOUT_SECONDS + 15
    with service.api() as api:
        names = [item["name"] for item in api.get("/api/items").json()]
    assert names == ["served meanwhile"] * 20, "a partial body must never create an item"
    tally.faults = slow_clients
    tally.cases = slow_clients + 40


@pytest.mark.slow
def test_clients_vanishing_mid_request_do_not_hurt_the_service(
    start_service: Callable[..., DemoService], tally: Tally
) -> None:
    service = start_service("--store", "lsm")
    vanished = 0
    body = json.dumps({"name": "never finished", "description": "x" * 5000})
    for cut in (0, 10, len(body) // 2, len(body) - 1):
        for _ in range(25):
            sock = _raw_request(
                service.port,
                f"PUT /api/display HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n{body[:cut]}",
            )
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()  # an RST, not a polite FIN
            vanished += 1
    # Clients that send a whole request and leave before the answer.
    for _ in range(25):
        sock = _raw_request(service.port, "GET /api/items HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
        vanished += 1
    # Clients that open a connection and never say anything.
    idle = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(50)]
    with service.api() as api:
        for _ in range(20):
            assert api.get("/health", timeout=2).status_code == 200
        assert api.get("/api/display").json() == {}, "a truncated body must never be stored"
        assert api.put("/api/display", json={"ok": True}, timeout=2).status_code == 200
    for sock in idle:
        sock.close()
    assert service.process is not None and service.process.poll() is None
    tally.faults = vanished + len(idle)
    tally.cases = 22
