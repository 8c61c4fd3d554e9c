"""RSGI adapter: how granian (the production server) calls the service.

granian imports ``create_app`` in every worker process (``factory=True``); the App itself is built in
``__rsgi_init__``, inside the worker, so each process opens its own store handle.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from ._app import App
from ._config import BODY_READ_TIMEOUT_SECONDS, Settings
from ._http import BodyTimeout, BodyTooLarge, Request

# How often stalled body reads are looked for: a read times out up to this much after its deadline.
SWEEP_INTERVAL_SECONDS = 1.0


class ReadDeadlines:
    """Cancels body reads still waiting at their deadline.

    ``asyncio.timeout()`` arms and then cancels a timer for every request: a quarter of the Python time
    of a small POST. Here a read only enters and leaves a dict, and one sweep a second, while reads are
    in flight, cancels those past their deadline. A read that never completes thus ends between
    ``seconds`` and ``seconds + interval`` after it started.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float, interval: float) -> None:
        self._loop = loop
        self._seconds = seconds
        self._interval = interval
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweep_handle: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> int:
        """Reads in flight."""
        return len(self._deadlines)

    @property
    def sweeping(self) -> bool:
        return self._sweep_handle is not None

    def start(self) -> asyncio.Task[Any]:
        """Start the deadline of the running task's read; returns that task."""
        # Given the loop, current_task skips get_running_loop(), which makes a getpid() system call.
        task = asyncio.current_task(self._loop)
        assert task is not None
        self._deadlines[task] = self._loop.time() + self._seconds
        if self._sweep_handle is None:
            self._sweep_handle = self._loop.call_later(self._interval, self._sweep)
        return task

    def finish(self, task: asyncio.Task[Any]) -> None:
        self._deadlines.pop(task, None)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cancelled here (then its cancellation is withdrawn), not by someone else."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        return True

    def _sweep(self) -> None:
        now = self._loop.time()
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[task]
                self._expired.add(task)
                task.cancel()
        self._sweep_handle = self._loop.call_later(self._interval, self._sweep) if self._deadlines else None

    def close(self) -> None:
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None


class RSGIApplication:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: App | None = None
        self.deadlines: ReadDeadlines | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.app = App(self.settings)
        self.deadlines = ReadDeadlines(loop, BODY_READ_TIMEOUT_SECONDS, SWEEP_INTERVAL_SECONDS)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.deadlines is not None:
            self.deadlines.close()
        if self.app is not None:
            self.app.close()

    async def _read_body(self, headers: Any, protocol: Any, limit: int) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        deadlines = self.deadlines
        assert deadlines is not None
        task = deadlines.start()
        try:
            if declared is not None:
                # Length known and within the limit: granian reads it whole, without chunking.
                return bytes(await protocol())
            chunks: list[bytes] = []
            size = 0
            async for chunk in protocol:
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
            return b"".join(chunks)
        except asyncio.CancelledError:
            if deadlines.expired(task):
                raise BodyTimeout() from None
            raise
        finally:
            deadlines.finish(task)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        assert self.app is not None
        client = scope.client.rpartition(":")[0].strip("[]") or scope.client
        # granian builds a new headers object on every ``scope.headers``: one, shared.
        headers = scope.headers
        request = Request(
            scope.method,
            scope.path,
            scope.query_string,
            headers,
            client,
            partial(self._read_body, headers, protocol),
        )
        response = await self.app.handle(request)
        protocol.response_bytes(response.status, response.headers, response.body)


def create_app() -> RSGIApplication:
    return RSGIApplication(Settings.from_env())
