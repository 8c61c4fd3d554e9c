"""ASGI adapter: the same service under any ASGI server (uvicorn) or in-process for tests (httpx)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from ._app import App
from ._config import BODY_READ_TIMEOUT_SECONDS
from ._http import BodyTimeout, BodyTooLarge, Request

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _Headers:
    """ASGI's raw header pairs behind the ``get``/``items`` lookup the service uses."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._pairs = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]

    def get(self, key: str, default: str | None = None) -> str | None:
        for name, value in self._pairs:
            if name == key:
                return value
        return default

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)


class ASGIApplication:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = _Headers(scope.get("headers", []))

        async def read_body(limit: int) -> bytes:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            chunks: list[bytes] = []
            size = 0
            try:
                async with asyncio.timeout(BODY_READ_TIMEOUT_SECONDS):
                    while True:
                        message = await receive()
                        chunk = message.get("body", b"")
                        size += len(chunk)
                        if size > limit:
                            raise BodyTooLarge(limit)
                        chunks.append(chunk)
                        if not message.get("more_body", False):
                            break
            except TimeoutError:
                raise BodyTimeout() from None
            return b"".join(chunks)

        client = scope.get("client")
        request = Request(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            client[0] if client else "",
            read_body,
        )
        response = await self.app.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.app.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
