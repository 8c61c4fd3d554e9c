"""`data "http"`: one HTTP request at read time, its response as attributes (hashicorp/http's data source).

A non-2xx status is not an error (check `status_code`, e.g. in a postcondition). Connection failures,
429 and 5xx answers are retried as the `retry` block says, with the exponential backoff of
go-retryablehttp (min_delay_ms doubling up to max_delay_ms); after the last attempt a connection
failure is an error and a 429/5xx answer is returned as it is.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from tf.iface import Config, DataSource, ReadDataContext, State
from tf.schema import Attribute, Block, Schema
from tf.types import Map, Number, String, Unknown
from tf.utils import Diagnostics

from examples.standins._blocks import SingleNestedBlock

if TYPE_CHECKING:
    from examples.standins.http._provider import HttpProvider

METHODS = ("GET", "HEAD", "POST")
# go-retryablehttp's RetryWaitMin and RetryWaitMax, which the real provider keeps when unset.
DEFAULT_MIN_DELAY_MS = 1000
DEFAULT_MAX_DELAY_MS = 30000
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

SCHEMA = Schema(
    version=0,
    description="Makes an HTTP request when read and exposes the response (offline stand-in of "
    "hashicorp/http). Only http and https URLs.",
    attributes=[
        Attribute("url", String(), description="The URL to request, http or https.", required=True),
        Attribute(
            "method",
            String(),
            description=f"The HTTP method: one of {', '.join(METHODS)}. Default GET.",
            optional=True,
        ),
        Attribute(
            "request_headers",
            Map(String()),
            description="Headers to send with the request.",
            optional=True,
        ),
        Attribute("request_body", String(), description="The request body, as a string.", optional=True),
        Attribute(
            "request_timeout_ms",
            Number(),
            description="Milliseconds to wait for the whole request, at least 1. Unset: no timeout.",
            optional=True,
        ),
        Attribute(
            "response_body",
            String(),
            description="The response body as UTF-8 text (invalid sequences replaced).",
            computed=True,
        ),
        Attribute(
            "body",
            String(),
            description="Deprecated alias of `response_body`, kept because the real provider has it.",
            computed=True,
        ),
        Attribute(
            "response_body_base64",
            String(),
            description="The response body, base64 encoded (for binary bodies).",
            computed=True,
        ),
        Attribute(
            "response_headers",
            Map(String()),
            description="The response headers; repeated headers are joined with `, `.",
            computed=True,
        ),
        Attribute(
            "status_code", Number(), description="The HTTP status code of the response.", computed=True
        ),
        Attribute("id", String(), description="The URL requested.", computed=True),
    ],
    block_types=[
        SingleNestedBlock(
            "retry",
            Block(
                description="Retry requests that fail to connect or answer 429 or 5xx.",
                attributes=[
                    Attribute(
                        "attempts",
                        Number(),
                        description="How many times to retry: 2 means at most 3 requests. Default 0.",
                        optional=True,
                    ),
                    Attribute(
                        "min_delay_ms",
                        Number(),
                        description=f"Delay before the first retry, in ms; it doubles on each retry. "
                        f"Default {DEFAULT_MIN_DELAY_MS}.",
                        optional=True,
                    ),
                    Attribute(
                        "max_delay_ms",
                        Number(),
                        description=f"Longest delay between retries, in ms, at least min_delay_ms. "
                        f"Default {DEFAULT_MAX_DELAY_MS}.",
                        optional=True,
                    ),
                ],
            ),
        )
    ],
)


@dataclass
class RetryPolicy:
    attempts: int = 0
    min_delay_ms: int = DEFAULT_MIN_DELAY_MS
    max_delay_ms: int = DEFAULT_MAX_DELAY_MS

    def delay_seconds(self, retry_number: int) -> float:
        """go-retryablehttp's DefaultBackoff: min * 2^n, capped at max."""
        return min(self.min_delay_ms * 2**retry_number, self.max_delay_ms) / 1000


@dataclass
class HttpResponseModel:
    response_body: str
    body: str
    response_body_base64: str
    response_headers: dict[str, str]
    status_code: int
    id: str


def _is_whole_number(value: Any, low: int) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
        and value >= low
    )


def validate_request(diags: Diagnostics, config: Config) -> None:
    url = config.get("url")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            diags.add_error("Invalid url", f"url must be an http or https URL; got {url!r}.", path=["url"])
    method = config.get("method")
    if method is not None and method is not Unknown and method not in METHODS:
        diags.add_error(
            "Invalid method", f"method must be one of {', '.join(METHODS)}; got {method!r}.", path=["method"]
        )
    timeout = config.get("request_timeout_ms")
    if timeout is not None and timeout is not Unknown and not _is_whole_number(timeout, 1):
        diags.add_error(
            "Invalid request_timeout_ms",
            f"request_timeout_ms must be a whole number of at least 1; got {timeout!r}.",
            path=["request_timeout_ms"],
        )
    retry = config.get("retry")
    if not isinstance(retry, dict):
        return
    for name in ("attempts", "min_delay_ms", "max_delay_ms"):
        value = retry.get(name)
        if value is not None and value is not Unknown and not _is_whole_number(value, 0):
            diags.add_error(
                f"Invalid retry.{name}",
                f"retry.{name} must be a whole number of at least 0; got {value!r}.",
                path=["retry", name],
            )
    low, high = retry.get("min_delay_ms"), retry.get("max_delay_ms")
    if isinstance(low, int | float) and isinstance(high, int | float) and high < low:
        diags.add_error(
            "Invalid retry.max_delay_ms",
            f"retry.max_delay_ms ({high}) must not be less than retry.min_delay_ms ({low}).",
            path=["retry", "max_delay_ms"],
        )


def retry_policy(retry: dict[str, Any] | None) -> RetryPolicy:
    policy = RetryPolicy()
    for name, value in (retry or {}).items():
        if value is not None:
            setattr(policy, name, int(value))
    return policy


def _should_retry(status_code: int) -> bool:
    # go-retryablehttp's DefaultRetryPolicy: 429, and 5xx except 501 Not Implemented.
    return status_code == 429 or (status_code >= 500 and status_code != 501)


def _response_model(url: str, status_code: int, headers: httpx.Headers, content: bytes) -> HttpResponseModel:
    text = content.decode("utf-8", errors="replace")
    # Go's net/http canonical header names ("Content-Type"), as the real provider's keys.
    joined = {name.title(): ", ".join(headers.get_list(name)) for name in headers}
    return HttpResponseModel(
        response_body=text,
        body=text,
        response_body_base64=base64.b64encode(content).decode(),
        response_headers=joined,
        status_code=status_code,
        id=url,
    )


class HttpDataSource(DataSource):
    def __init__(self, provider: HttpProvider):
        self._provider = provider

    @classmethod
    def get_name(cls) -> str:
        return ""

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        validate_request(diags, config)

    def read(self, ctx: ReadDataContext, config: Config) -> State | None:
        diags = ctx.diagnostics
        validate_request(diags, config)
        if diags.has_errors():
            return None
        url: str = config["url"]
        policy = retry_policy(config.get("retry"))
        timeout_ms = config.get("request_timeout_ms")
        body = config.get("request_body")
        with httpx.Client(
            transport=self._provider.transport,
            timeout=timeout_ms / 1000 if timeout_ms else None,
            follow_redirects=True,
        ) as client:
            request = client.build_request(
                config.get("method") or "GET",
                url,
                headers=config.get("request_headers") or {},
                content=body.encode() if body is not None else None,
            )
            response = self._send(diags, client, request, policy)
        if response is None:
            return None
        return {**config, **asdict(response)}

    def _send(
        self, diags: Diagnostics, client: httpx.Client, request: httpx.Request, policy: RetryPolicy
    ) -> HttpResponseModel | None:
        url = str(request.url)
        for attempt in range(policy.attempts + 1):
            last_attempt = attempt == policy.attempts
            try:
                response = client.send(request, stream=True)
                try:
                    content = _read_limited(response)
                finally:
                    response.close()
                if not _should_retry(response.status_code) or last_attempt:
                    return _response_model(url, response.status_code, response.headers, content)
            except _ResponseTooLarge as exc:
                diags.add_error("Response too large", f"{request.method} {url}: {exc}", path=["url"])
                return None
            except httpx.HTTPError as exc:
                if last_attempt:
                    diags.add_error(
                        "Error making request",
                        f"{request.method} {url} failed after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}: {exc}",
                        path=["url"],
                    )
                    return None
            self._provider.sleep(policy.delay_seconds(attempt))
        raise AssertionError("the last attempt always returns")


class _ResponseTooLarge(Exception):
    pass


def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _ResponseTooLarge(f"the body exceeds {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
