"""HTTP client for the demo service API (the contract in docs/architecture.md).

Every failure leaves this module as a `ClientError` whose message names the URL, so the resources can
turn it into one Terraform diagnostic. Retries are bounded: connection refused (the service is still
booting) is retried for every method because the request never reached the service; transport errors,
timeouts and 5xx only for requests that are safe to repeat, and any request on 503 (the service rejected
it before storing anything).

Safe to repeat are the idempotent methods and creates. A create sends one `Idempotency-Key` (a uuid4) on
every attempt: when an attempt was stored but its answer lost (a reset or killed connection, a timeout),
the service answers the retry with the item that attempt made instead of storing a second one. Without
the key a retried POST could create the item twice, and without retries the stored item would be an
orphan: Terraform records the create as failed, so destroy never removes it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from provider._errors import ApiError, DisplayDocument, NotFound, ServiceUnreachable, untrusted_text
from provider._mirror import VERSION
from provider._transport import HTTPConnectionTransport

USER_AGENT = f"terraform-provider-demoapp/{VERSION}"
BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class DemoappClient:
    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        retries: int = 0,
        max_connections: int = 64,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ):
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.endpoint = endpoint
        self.retries = retries
        self._sleep = sleep
        self._jitter = jitter
        self._headers = headers
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        if transport is None:
            if endpoint.startswith("http://"):
                transport = HTTPConnectionTransport(max_idle_connections=max_connections)
            else:
                connections = max_connections
                pool = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
                transport = httpx.HTTPTransport(limits=pool)
        # Requests go straight to the transport: `httpx.Client.send` adds auth, redirect and cookie handling
        # this API never needs, about 80 us of CPU per request (a fifth of a create's).
        self._transport = transport

    def close(self) -> None:
        self._transport.close()

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt) * (0.5 + self._jitter() / 2)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(BACKOFF_CAP, float(retry_after)))
        return delay

    def _send(
        self, method: str, path: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        url = f"{self.endpoint}{path}"
        attempts = self.retries + 1
        repeatable = method in _IDEMPOTENT or idempotency_key is not None
        headers = {**self._headers, **kwargs.pop("headers", {})}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        # Built here, once for all attempts, rather than by `Client.request`: its merging of a base URL,
        # default headers and cookies cost about 90 us of CPU per request, a fifth of a create's.
        request = httpx.Request(method, url, headers=headers, extensions=self._extensions, **kwargs)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._transport.handle_request(request)
                response.request = request
                response.read()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise ServiceUnreachable(
                        f"demoapp service unreachable at {self.endpoint}",
                        f"{method} {url} failed after {attempts} attempt(s): {exc or type(exc).__name__}. "
                        "Check that the service is running and that the provider's endpoint is right.",
                    ) from exc
                self._sleep(self._backoff(attempt, None))
                continue
            except (httpx.HTTPError, OSError) as exc:
                if last or not repeatable:
                    raise ServiceUnreachable(
                        f"demoapp request failed: {method} {url}",
                        f"{type(exc).__name__}: {exc or 'no detail'} (attempt {attempt + 1} of {attempts})",
                    ) from exc
                self._sleep(self._backoff(attempt, None))
                continue
            retryable = response.status_code == 503 or (response.status_code >= 500 and repeatable)
            if retryable and not last:
                self._sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _call(self, method: str, path: str, expected: int, **kwargs: Any) -> httpx.Response:
        response = self._send(method, path, **kwargs)
        if response.status_code != expected:
            raise self._api_error(method, response)
        return response

    @staticmethod
    def _api_error(method: str, response: httpx.Response) -> ApiError:
        message, field = response.text, None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body["error"]
            field = body.get("field") if isinstance(body.get("field"), str) else None
        error_type = NotFound if response.status_code == 404 else ApiError
        return error_type(
            method,
            str(response.request.url),
            response.status_code,
            untrusted_text(message or "(empty)"),
            field,
        )

    @staticmethod
    def _json(method: str, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                method, str(response.request.url), response.status_code, f"response is not JSON: {exc}", None
            ) from exc

    def _json_object(self, method: str, response: httpx.Response) -> dict[str, Any]:
        body = self._json(method, response)
        if not isinstance(body, dict):
            raise ApiError(
                method, str(response.request.url), response.status_code, "expected a JSON object", None
            )
        return body

    # --- items ---
    def create_item(self, name: str, description: str | None) -> dict[str, Any]:
        """Create one item; every attempt of this call carries the same new idempotency key."""
        body = {"name": name, "description": description}
        response = self._call("POST", "/api/items", 201, json=body, idempotency_key=str(uuid.uuid4()))
        return self._json_object("POST", response)

    def get_item(self, item_id: int) -> dict[str, Any]:
        return self._json_object("GET", self._call("GET", f"/api/items/{item_id}", 200))

    def replace_item(self, item_id: int, name: str, description: str | None) -> dict[str, Any]:
        body = {"name": name, "description": description}
        return self._json_object("PUT", self._call("PUT", f"/api/items/{item_id}", 200, json=body))

    def delete_item(self, item_id: int) -> None:
        self._call("DELETE", f"/api/items/{item_id}", 204)

    def list_items(self, page_size: int = 1000) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": page_size}
        while True:
            response = self._call("GET", "/api/items", 200, params=params)
            page = self._json("GET", response)
            if not isinstance(page, list):
                raise ApiError("GET", str(response.request.url), 200, "expected a JSON array", None)
            items.extend(page)
            next_after = response.headers.get("X-Next-After")
            if not next_after or not page:
                return items
            params = {"limit": page_size, "after": next_after}

    # --- display ---
    def get_display(self) -> DisplayDocument | None:
        """The stored display, or None when none is set (the service then answers `{}` without an ETag)."""
        response = self._call("GET", "/api/display", 200)
        if "ETag" not in response.headers:
            return None
        return DisplayDocument(text=response.text, updated_at=response.headers.get("X-Display-Updated-At"))

    def put_display(self, text: str) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        response = self._call("PUT", "/api/display", 200, content=text.encode(), headers=headers)
        return self._json_object("PUT", response)

    def delete_display(self) -> None:
        self._call("DELETE", "/api/display", 204)

    # --- system ---
    def get_system(self) -> dict[str, Any]:
        return self._json_object("GET", self._call("GET", "/api/system", 200))
