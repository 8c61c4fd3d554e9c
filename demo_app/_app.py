"""The service: routing, validation and handlers, independent of the server interface.

``App.handle(Request) -> Response`` is called by the RSGI adapter (granian, production) and the ASGI
adapter (tests, uvicorn). Every failure becomes ``{"error", "field"}`` JSON with a 4xx or 503; a 500
would be a bug.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson

from . import __version__, _openapi, _system
from ._catalog import Catalog, Clock, IdempotencyConflict, utc_now
from ._config import DISPLAY_BODY_LIMIT, ITEM_BODY_LIMIT, Settings
from ._http import (
    JSON_HEADERS,
    PAGE_SECURITY_HEADERS,
    SECURITY_HEADERS,
    BodyTimeout,
    BodyTooLarge,
    Headers,
    HTTPError,
    Request,
    Response,
    json_response,
)
from ._logs import AccessLog
from ._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ._metrics import InstrumentedEngine, Metrics
from ._openapi import IDEMPOTENCY_KEY_PATTERN, LIMIT_MAX, NAME_MAX
from ._openapi import INT64_MAX as _INT64_MAX
from .store import Engine, StoreBusy, StoreError, open_store

_T = TypeVar("_T")
Handler = Callable[[Request, str], Awaitable[Response]]

log = logging.getLogger("demo_app")

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STATIC_DIR = Path(__file__).parent / "ui" / "static"
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ITEMS_ROUTE = "/api/items/{id}"
# At most 16 cached list answers of at most 1 MiB each: bounded memory whatever the queries.
_LIST_CACHE_ENTRIES = 16
_LIST_CACHE_MAX_BODY = 1024 * 1024
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_REPLAYED: Headers = [("idempotent-replayed", "true")]


def _static_files() -> dict[str, tuple[bytes, str, Headers]]:
    files: dict[str, tuple[bytes, str, Headers]] = {}
    for path in sorted(_STATIC_DIR.iterdir()):
        if path.suffix not in _STATIC_TYPES:
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        headers = [
            ("content-type", _STATIC_TYPES[path.suffix]),
            ("cache-control", "no-cache"),
            ("etag", etag),
            *PAGE_SECURITY_HEADERS,
        ]
        files["/" if path.name == "index.html" else f"/static/{path.name}"] = (body, etag, headers)
    return files


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class App:
    def __init__(self, settings: Settings, engine: Engine | None = None, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.started = time.monotonic()
        raw_engine = engine or open_store(settings.store, settings.data_dir)
        self.metrics = Metrics(__version__, raw_engine.name, self._count_items)
        self.engine = InstrumentedEngine(raw_engine, self.metrics)
        self.catalog = Catalog(self.engine, clock)
        self._clock = clock
        self.access_log = AccessLog(settings.log_level)
        # SQLite waits on locks: its calls go to threads, several at once, which is what makes them collide.
        self._pool = (
            ThreadPoolExecutor(max_workers=16, thread_name_prefix="store")
            if raw_engine.offload_to_thread
            else None
        )
        self._token = settings.token.encode() if settings.token else None
        self._health_tail = b',"store":' + orjson.dumps(raw_engine.name) + b"}"
        # List answers by (after, limit), valid while the store's write generation is unchanged: one
        # process owns the store, so no write can happen behind the service's back.
        self._list_cache: dict[tuple[int | None, int | None], tuple[int, bytes, Headers]] = {}
        # ETags carry the generation; this id keeps them apart across restarts.
        self._boot_id = secrets.token_hex(6)
        self._static = _static_files()
        self._openapi = orjson.dumps(_openapi.document(__version__))
        self._routes: dict[str, dict[str, Handler]] = {
            "/health": {"GET": self.health},
            "/api/items": {"GET": self.list_items, "POST": self.create_item},
            _ITEMS_ROUTE: {
                "GET": self.get_item,
                "PUT": self.replace_item,
                "PATCH": self.patch_item,
                "DELETE": self.delete_item,
            },
            "/api/display": {
                "GET": self.get_display,
                "PUT": self.put_display,
                "POST": self.put_display,
                "DELETE": self.delete_display,
            },
            "/api/system": {"GET": self.system},
            "/metrics": {"GET": self.metrics_text},
            "/openapi.json": {"GET": self.openapi},
        }
        for path in self._static:
            self._routes[path] = {"GET": self.static_file}
        self._allow = {route: ", ".join(methods) for route, methods in self._routes.items()}

    # Dispatch ----------------------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[str, str]:
        """The route template for ``path`` and the raw id segment, when the route has one."""
        if path in self._routes:
            return path, ""
        if path.startswith("/api/items/"):
            segment = path[len("/api/items/") :]
            if "/" not in segment:
                return _ITEMS_ROUTE, segment
        return "", ""

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        route, segment = self._route(request.path)
        try:
            if not route:
                raise HTTPError(404, "not found")
            handler = self._routes[route].get(request.method)
            if handler is None:
                raise HTTPError(405, "method not allowed", headers=[("allow", self._allow[route])])
            if self._token is not None and route.startswith(("/api/", "/metrics")):
                self._authorize(request)
            response = await handler(request, segment)
        except HTTPError as error:
            response = error.response()
        except StoreBusy as error:
            response = HTTPError(
                503, f"store busy: {_busy_reason(error)}", headers=[("retry-after", "1")]
            ).response()
        except StoreError as error:
            log.warning("store failure: %s", error)
            response = HTTPError(503, "store unavailable", headers=[("retry-after", "1")]).response()
        except Exception:
            log.exception("unhandled error for %s %s", request.method, route or "unmatched")
            response = HTTPError(500, "internal error").response()
        elapsed = time.perf_counter() - started
        self.metrics.observe_request(request.method, route or "unmatched", response.status, elapsed)
        if self.access_log.enabled:
            self.access_log.write(request.method, request.path, response.status, elapsed, request.client)
        return response

    def _authorize(self, request: Request) -> None:
        if request.method not in _WRITE_METHODS and not self.settings.token_reads:
            return
        assert self._token is not None
        given = request.headers.get("authorization") or ""
        scheme, _, credential = given.partition(" ")
        # compare_digest runs in constant time whatever the credential, so nothing leaks by timing.
        valid = hmac.compare_digest(credential.strip().encode(), self._token)
        if scheme.lower() != "bearer" or not valid:
            raise HTTPError(401, "unauthorized", "Authorization", headers=[("www-authenticate", "Bearer")])

    async def _store(self, operation: Callable[..., _T], *args: Any) -> _T:
        if self._pool is None:
            return operation(*args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(operation, *args))

    def _count_items(self) -> int:
        return self.catalog.count_items()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.access_log.close()
        self.engine.close()

    # Request parsing ---------------------------------------------------------------------------------

    async def _body(self, request: Request, limit: int) -> bytes:
        try:
            return await request.read_body(limit)
        except BodyTooLarge as error:
            raise HTTPError(413, f"request body is larger than {error.limit} bytes", "body") from None
        except BodyTimeout:
            raise HTTPError(408, "request body not received in time", "body") from None

    @staticmethod
    def _json_object(body: bytes) -> dict[str, Any]:
        # Not a coroutine of its own (its callers await the read): one coroutine less per POST.
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HTTPError(400, "invalid JSON", "body") from None
        if not isinstance(value, dict):
            raise HTTPError(400, "body must be a JSON object", "body")
        return value

    @staticmethod
    def _item_id(segment: str) -> int:
        if not segment.isascii() or not segment.isdigit():
            raise HTTPError(400, "invalid id: must be a non-negative integer", "id")
        item_id = int(segment)
        if item_id > _INT64_MAX:
            raise HTTPError(400, "invalid id: out of range", "id")
        return item_id

    @staticmethod
    def _name(body: dict[str, Any], required: bool) -> str | None:
        if "name" not in body:
            if required:
                raise HTTPError(400, "name is required", "name")
            return None
        name = body["name"]
        if not isinstance(name, str):
            raise HTTPError(400, "name must be a string", "name")
        if not name:
            raise HTTPError(400, "name must not be empty", "name")
        if len(name) > NAME_MAX:
            raise HTTPError(400, f"name must be at most {NAME_MAX} characters", "name")
        return name

    @staticmethod
    def _description(body: dict[str, Any]) -> str | None:
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise HTTPError(400, "description must be a string or null", "description")
        return description

    # Handlers ----------------------------------------------------------------------------------------

    async def health(self, request: Request, _: str) -> Response:
        timestamp = self._clock()
        try:
            await self._store(self.engine.ping)
        except StoreError as error:
            body = {
                "status": "unavailable",
                "timestamp": timestamp,
                "store": self.engine.name,
                "error": str(error),
            }
            return json_response(503, orjson.dumps(body))
        # The answer to the most frequent request, from pre-encoded parts: no dict per probe.
        return Response(200, b'{"status":"ok","timestamp":' + orjson.dumps(timestamp) + self._health_tail)

    async def list_items(self, request: Request, _: str) -> Response:
        after: int | None = None
        limit: int | None = None
        for key, value in parse_qsl(request.query_string, keep_blank_values=True):
            if key == "limit":
                if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= LIMIT_MAX:
                    raise HTTPError(400, f"limit must be an integer from 1 to {LIMIT_MAX}", "limit")
                limit = int(value)
            elif key == "after":
                if not value.isascii() or not value.isdigit() or int(value) > _INT64_MAX:
                    raise HTTPError(400, "after must be a non-negative integer id", "after")
                after = int(value)
        generation = self.engine.generation
        etag = f'"{self._boot_id}-{generation}"'
        cached = self._list_cache.get((after, limit))
        if cached is not None and cached[0] == generation:
            body, extra = cached[1], cached[2]
        else:
            items, more = await self._store(self.catalog.list_items, after, limit)
            body = b"[" + b",".join(items) + b"]"
            extra = [("etag", etag), ("cache-control", "no-cache")]
            if more:
                extra.append(("x-next-after", str(orjson.loads(items[-1])["id"])))
            if len(body) <= _LIST_CACHE_MAX_BODY:
                if len(self._list_cache) >= _LIST_CACHE_ENTRIES:
                    self._list_cache.clear()
                self._list_cache[(after, limit)] = (generation, body, extra)
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", [*SECURITY_HEADERS, *extra])
        return json_response(200, body, extra)

    async def create_item(self, request: Request, _: str) -> Response:
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise HTTPError(
                400, "Idempotency-Key must be 1 to 128 characters of A-Z a-z 0-9 . _ : -", "Idempotency-Key"
            )
        body = self._json_object(await self._body(request, ITEM_BODY_LIMIT))
        name = self._name(body, required=True)
        assert name is not None
        description = self._description(body)
        if idempotency_key is None:
            # The common path stays one sequence and one put: no lookup of a key record.
            return json_response(201, await self._store(self.catalog.create_item, name, description))
        try:
            created = await self._store(self.catalog.create_item_once, idempotency_key, name, description)
        except IdempotencyConflict:
            raise HTTPError(
                422, "Idempotency-Key was already used for a create with a different body", "Idempotency-Key"
            ) from None
        return json_response(201, created.body, _REPLAYED if created.replayed else None)

    async def get_item(self, request: Request, segment: str) -> Response:
        item = await self._store(self.catalog.get_item, self._item_id(segment))
        if item is None:
            raise HTTPError(404, "not found", "id")
        return json_response(200, item)

    async def replace_item(self, request: Request, segment: str) -> Response:
        item_id = self._item_id(segment)
        body = self._json_object(await self._body(request, ITEM_BODY_LIMIT))
        changes = {"name": self._name(body, required=True), "description": self._description(body)}
        return await self._update(item_id, changes)

    async def patch_item(self, request: Request, segment: str) -> Response:
        item_id = self._item_id(segment)
        body = self._json_object(await self._body(request, ITEM_BODY_LIMIT))
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = self._name(body, required=False)
        if "description" in body:
            changes["description"] = self._description(body)
        return await self._update(item_id, changes)

    async def _update(self, item_id: int, changes: dict[str, Any]) -> Response:
        item = await self._store(self.catalog.update_item, item_id, changes)
        if item is None:
            raise HTTPError(404, "not found", "id")
        return json_response(200, item)

    async def delete_item(self, request: Request, segment: str) -> Response:
        if not await self._store(self.catalog.delete_item, self._item_id(segment)):
            raise HTTPError(404, "not found", "id")
        return Response(204, b"", SECURITY_HEADERS)

    async def get_display(self, request: Request, _: str) -> Response:
        stored = await self._store(self.catalog.get_display)
        if stored is None:
            return json_response(200, b"{}", [("cache-control", "no-cache")])
        document, meta = stored
        etag = f'"{meta.hash}"'
        extra: Headers = [
            ("etag", etag),
            ("x-display-updated-at", meta.updated_at),
            ("cache-control", "no-cache"),
        ]
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", [*SECURITY_HEADERS, *extra])
        return json_response(200, document, extra)

    async def put_display(self, request: Request, _: str) -> Response:
        document = await self._body(request, DISPLAY_BODY_LIMIT)
        try:
            # The stdlib parser, as the contract's canonical hash is defined with the stdlib encoder.
            parsed = json.loads(document.decode("utf-8"), parse_constant=_reject_constant)
            meta = await self._store(self.catalog.put_display, document, parsed)
        except (UnicodeError, ValueError, RecursionError):
            raise HTTPError(400, "invalid JSON", "body") from None
        return json_response(201 if request.method == "POST" else 200, meta.as_json())

    async def delete_display(self, request: Request, _: str) -> Response:
        await self._store(self.catalog.delete_display)
        return Response(204, b"", SECURITY_HEADERS)

    async def system(self, request: Request, _: str) -> Response:
        info: dict[str, Any] = _system.machine()
        info.update(
            uptime_seconds=round(time.monotonic() - self.started, 3),
            version=__version__,
            store=self.engine.describe(),
            client_ip=request.client,
            user_agent=request.headers.get("user-agent") or "",
            headers={
                name: value
                for name, value in request.headers.items()
                if name.lower() not in _system.HIDDEN_HEADERS
            },
            environment=_system.allowed_environment(self.settings.env_allow),
        )
        return json_response(200, orjson.dumps(info))

    async def metrics_text(self, request: Request, _: str) -> Response:
        return Response(
            200, self.metrics.render(), [("content-type", METRICS_CONTENT_TYPE), *SECURITY_HEADERS]
        )

    async def openapi(self, request: Request, _: str) -> Response:
        return Response(200, self._openapi, JSON_HEADERS)

    async def static_file(self, request: Request, _: str) -> Response:
        body, etag, headers = self._static[request.path]
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", headers)
        return Response(200, body, headers)


def _busy_reason(error: StoreBusy) -> str:
    reason = str(error)
    return reason if reason == "database is locked" else f"database is locked ({reason})"
