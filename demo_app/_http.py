"""The server-independent request and response types, shared by the RSGI and ASGI adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

Headers = list[tuple[str, str]]

JSON = "application/json"

# On every response: nothing may be framed or have its type sniffed. API answers (JSON, metrics, empty
# bodies) load nothing at all, so their policy forbids everything (as OWASP's REST guidance has it); the
# page and its assets get the policy that lets it load its own script and style, and no inline script.
_SAFE_TYPES_AND_FRAMES: Headers = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
]
SECURITY_HEADERS: Headers = [
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    *_SAFE_TYPES_AND_FRAMES,
]
PAGE_SECURITY_HEADERS: Headers = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    *_SAFE_TYPES_AND_FRAMES,
]
JSON_HEADERS: Headers = [("content-type", JSON), *SECURITY_HEADERS]


class HeaderLookup(Protocol):
    """Request headers, looked up by lower-case name (granian's RSGIHeaders, or the ASGI adapter's)."""

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def items(self) -> Iterable[tuple[str, str]]: ...


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than {limit} bytes")
        self.limit = limit


class BodyTimeout(Exception):
    """The client did not send its whole body in time."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query_string: str
    headers: HeaderLookup
    client: str
    #: Reads the whole body, raising BodyTooLarge past the given limit or BodyTimeout when too slow.
    read_body: Callable[[int], Awaitable[bytes]]


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=lambda: JSON_HEADERS)


class HTTPError(Exception):
    """An error answered as ``{"error": message, "field": field}``."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: Headers | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or []

    def response(self) -> Response:
        body = orjson.dumps({"error": self.message, "field": self.field})
        return Response(self.status, body, [*JSON_HEADERS, *self.headers] if self.headers else JSON_HEADERS)


def json_response(status: int, body: bytes, extra: Headers | None = None) -> Response:
    return Response(status, body, [*JSON_HEADERS, *extra] if extra else JSON_HEADERS)
