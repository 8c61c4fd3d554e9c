"""RSGI adapter: how granian (the production server) calls the service.

granian imports ``create_app`` in every worker process (``factory=True``); the App itself is built in
``__rsgi_init__``, inside the worker, so each process opens its own store handle.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._app import App
from ._config import BODY_READ_TIMEOUT_SECONDS, Settings
from ._http import BodyTimeout, BodyTooLarge, Request


class RSGIApplication:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: App | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.app = App(self.settings)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.app is not None:
            self.app.close()

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        assert self.app is not None

        async def read_body(limit: int) -> bytes:
            declared = scope.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            chunks: list[bytes] = []
            size = 0
            try:
                async with asyncio.timeout(BODY_READ_TIMEOUT_SECONDS):
                    if declared is not None:
                        # Length known and within the limit: granian reads it whole, without chunking.
                        return bytes(await protocol())
                    async for chunk in protocol:
                        size += len(chunk)
                        if size > limit:
                            raise BodyTooLarge(limit)
                        chunks.append(chunk)
            except TimeoutError:
                raise BodyTimeout() from None
            return b"".join(chunks)

        client = scope.client.rpartition(":")[0].strip("[]") or scope.client
        request = Request(scope.method, scope.path, scope.query_string, scope.headers, client, read_body)
        response = await self.app.handle(request)
        protocol.response_bytes(response.status, response.headers, response.body)


def create_app() -> RSGIApplication:
    return RSGIApplication(Settings.from_env())
