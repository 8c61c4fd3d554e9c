"""The RSGI adapter driven in-process with a fake granian protocol: body reads and their deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest

from demo_app import Settings
from demo_app import _rsgi as rsgi_module
from demo_app._rsgi import RSGIApplication

pytestmark = pytest.mark.anyio

BODY = b'{"name": "from rsgi"}'


@dataclass
class FakeScope:
    method: str = "POST"
    path: str = "/api/items"
    headers: dict[str, str] = field(default_factory=lambda: {"content-length": str(len(BODY))})
    proto: str = "http"
    query_string: str = ""
    client: str = "127.0.0.1:40000"


class FakeProtocol:
    """granian's HTTP protocol object: ``await protocol()`` reads the body; ``response_bytes`` answers."""

    def __init__(self, body: bytes | None) -> None:
        self.body = body  # None: the client never sends its body
        self.answers: list[tuple[int, bytes]] = []

    async def __call__(self) -> bytes:
        if self.body is None:
            await asyncio.Event().wait()
        assert self.body is not None
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answers.append((status, body))


@pytest.fixture
async def application(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RSGIApplication]:
    monkeypatch.setattr(rsgi_module, "BODY_READ_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(rsgi_module, "SWEEP_INTERVAL_SECONDS", 0.05)
    application = RSGIApplication(Settings(store="memory", log_level="warning"))
    loop = asyncio.get_running_loop()
    application.__rsgi_init__(loop)
    yield application
    application.__rsgi_del__(loop)


async def test_a_body_that_does_not_arrive_in_time_gets_408_naming_body(application: RSGIApplication) -> None:
    stalled, served = FakeProtocol(None), FakeProtocol(BODY)
    slow = asyncio.ensure_future(application.__rsgi__(FakeScope(), stalled))
    await application.__rsgi__(FakeScope(), served)
    assert served.answers[0][0] == 201, "a stalled body holds up no other request"
    await asyncio.wait_for(slow, timeout=5)
    [(status, body)] = stalled.answers
    assert status == 408
    assert orjson.loads(body) == {"error": "request body not received in time", "field": "body"}
    listed = FakeProtocol(b"")
    await application.__rsgi__(FakeScope(method="GET", headers={}), listed)
    assert [item["name"] for item in orjson.loads(listed.answers[0][1])] == ["from rsgi"]


async def test_a_request_cancelled_from_outside_stays_cancelled(application: RSGIApplication) -> None:
    """Only the deadline's own cancellation becomes a 408; a shutdown's cancellation goes through."""
    stalled = FakeProtocol(None)
    task = asyncio.ensure_future(application.__rsgi__(FakeScope(), stalled))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stalled.answers == []
    await asyncio.sleep(0.3)  # past the deadline: the sweep finds nothing left to cancel


async def test_reads_leave_no_deadline_behind(application: RSGIApplication) -> None:
    for _ in range(100):
        protocol = FakeProtocol(BODY)
        await application.__rsgi__(FakeScope(), protocol)
        assert protocol.answers[0][0] == 201
    deadlines = application.deadlines
    assert deadlines is not None and deadlines.pending == 0
    await asyncio.sleep(0.2)
    assert not deadlines.sweeping, "the sweep stops while no read is in flight"


async def test_a_chunked_body_is_read_whole(application: RSGIApplication) -> None:
    class Chunked(FakeProtocol):
        def __aiter__(self) -> AsyncIterator[bytes]:
            async def chunks() -> AsyncIterator[bytes]:
                for index in range(0, len(BODY), 5):
                    yield BODY[index : index + 5]

            return chunks()

    protocol = Chunked(None)
    await application.__rsgi__(FakeScope(headers={}), protocol)
    assert protocol.answers[0][0] == 201
    assert orjson.loads(protocol.answers[0][1])["name"] == "from rsgi"
