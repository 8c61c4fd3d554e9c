"""The HTTP client, over httpx's MockTransport: retries, backoff bounds, errors naming the URL."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from provider._client import (
    BACKOFF_CAP,
    ApiError,
    DemoappClient,
    NotFound,
    ServiceUnreachable,
    untrusted_text,
)

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, retries: int = 3, token: str | None = None
) -> tuple[DemoappClient, list[float]]:
    sleeps: list[float] = []
    client = DemoappClient(
        "http://127.0.0.1:9",
        token=token,
        retries=retries,
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        jitter=lambda: 1.0,
    )
    return client, sleeps


def refuse_then(answers: list[httpx.Response]) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not answers:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return answers.pop(0)

    return handler, seen


ITEM = {"id": 7, "name": "n", "description": None, "created_at": "2026-01-01T00:00:00Z"}


def test_connection_refused_is_retried_until_the_service_answers() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(201, json=ITEM)

    client, sleeps = make_client(handler)
    assert client.create_item("n", None) == ITEM
    assert attempts == 3 and sleeps == [0.25, 0.5]


def test_retries_are_bounded_and_the_error_names_the_url() -> None:
    handler, seen = refuse_then([])
    client, sleeps = make_client(handler, retries=8)
    with pytest.raises(ServiceUnreachable) as raised:
        client.get_item(7)
    assert len(seen) == 9 and len(sleeps) == 8
    assert max(sleeps) == BACKOFF_CAP, "backoff doubles up to the cap"
    assert "http://127.0.0.1:9/api/items/7" in raised.value.detail
    assert "http://127.0.0.1:9" in raised.value.summary


def test_idempotent_calls_retry_5xx_and_post_only_503() -> None:
    handler, seen = refuse_then([httpx.Response(500, json={"error": "boom"}), httpx.Response(200, json=ITEM)])
    client, _ = make_client(handler)
    assert client.get_item(7) == ITEM and len(seen) == 2

    handler, seen = refuse_then([httpx.Response(500, json={"error": "boom", "field": None})])
    client, _ = make_client(handler)
    with pytest.raises(ApiError, match="boom"):
        client.create_item("n", None)
    assert len(seen) == 1, "a POST that may have been applied is not repeated"

    busy = httpx.Response(503, json={"error": "store busy"}, headers={"Retry-After": "1"})
    handler, seen = refuse_then([busy, httpx.Response(201, json=ITEM)])
    client, sleeps = make_client(handler)
    assert client.create_item("n", None) == ITEM
    assert sleeps == [1.0], "Retry-After is honoured"


def test_api_errors_carry_status_message_and_field() -> None:
    handler, _ = refuse_then([httpx.Response(400, json={"error": "name is required", "field": "name"})])
    client, _ = make_client(handler)
    with pytest.raises(ApiError) as raised:
        client.create_item("", None)
    assert (raised.value.status, raised.value.field, raised.value.message) == (
        400,
        "name",
        "name is required",
    )

    handler, _ = refuse_then([httpx.Response(404, json={"error": "not found", "field": None})])
    client, _ = make_client(handler)
    with pytest.raises(NotFound):
        client.get_item(1)


def test_token_is_sent_as_bearer_and_bodies_are_what_the_contract_says() -> None:
    handler, seen = refuse_then([httpx.Response(200, json=ITEM), httpx.Response(200, json={"hash": "h"})])
    client, _ = make_client(handler, token="s3cret")
    client.replace_item(7, "n", None)
    client.put_display('{ "b": 1,  "a": 2 }')
    assert all(request.headers["Authorization"] == "Bearer s3cret" for request in seen)
    assert json.loads(seen[0].content) == {"name": "n", "description": None}
    assert seen[1].content == b'{ "b": 1,  "a": 2 }', "the display is sent byte for byte"


def test_empty_display_is_none_and_a_set_one_keeps_its_bytes() -> None:
    handler, _ = refuse_then(
        [
            httpx.Response(200, json={}),
            httpx.Response(200, text='{"a": 1}', headers={"ETag": '"x"', "X-Display-Updated-At": "t"}),
        ]
    )
    client, _ = make_client(handler)
    assert client.get_display() is None
    document = client.get_display()
    assert document is not None and (document.text, document.updated_at) == ('{"a": 1}', "t")


def test_list_items_follows_pages() -> None:
    pages = [
        httpx.Response(200, json=[{**ITEM, "id": 1}], headers={"X-Next-After": "1"}),
        httpx.Response(200, json=[{**ITEM, "id": 2}]),
    ]
    handler, seen = refuse_then(pages)
    client, _ = make_client(handler)
    assert [item["id"] for item in client.list_items(page_size=1)] == [1, 2]
    assert seen[1].url.params["after"] == "1"


def test_untrusted_text_is_cut_and_stripped_of_control_characters() -> None:
    assert untrusted_text("ok\x1b[31mred\n") == "ok [31mred "
    assert len(untrusted_text("x" * 1000)) == 303
