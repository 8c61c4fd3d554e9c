"""The HTTP client: retries, backoff bounds, errors naming the URL (over httpx's MockTransport), and its
plain-http transport (over real sockets)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

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
from provider._transport import HTTPConnectionTransport
from provider.acceptance import DemoService

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


def test_idempotent_calls_and_creates_retry_5xx() -> None:
    handler, seen = refuse_then([httpx.Response(500, json={"error": "boom"}), httpx.Response(200, json=ITEM)])
    client, _ = make_client(handler)
    assert client.get_item(7) == ITEM and len(seen) == 2

    handler, seen = refuse_then([httpx.Response(500, json={"error": "boom"}), httpx.Response(201, json=ITEM)])
    client, _ = make_client(handler)
    assert client.create_item("n", None) == ITEM
    assert len(seen) == 2, "a create carries an idempotency key, so repeating it cannot store a second item"

    busy = httpx.Response(503, json={"error": "store busy"}, headers={"Retry-After": "1"})
    handler, seen = refuse_then([busy, httpx.Response(201, json=ITEM)])
    client, sleeps = make_client(handler)
    assert client.create_item("n", None) == ITEM
    assert sleeps == [1.0], "Retry-After is honoured"


def test_a_post_without_idempotency_key_is_repeated_only_on_503() -> None:
    handler, seen = refuse_then([httpx.Response(500, json={"error": "boom", "field": None})])
    client, _ = make_client(handler)
    assert client._send("POST", "/api/items", json={"name": "n"}).status_code == 500
    assert len(seen) == 1, "a POST that may have been applied is not repeated"

    def lost(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ReadError("[Errno 9] Bad file descriptor", request=request)

    seen.clear()
    client, _ = make_client(lost)
    with pytest.raises(ServiceUnreachable, match="attempt 1 of 4"):
        client._send("POST", "/api/items", json={"name": "n"})
    assert len(seen) == 1


def lose_answers(
    service_url: str, lost: Callable[[httpx.Request], Exception], posts_lost: frozenset[int] = frozenset({1})
) -> tuple[Handler, list[httpx.Request]]:
    """A transport that sends every request to the real service, but discards the answers to the POSTs
    numbered in ``posts_lost`` (from 1) and raises ``lost(request)`` instead: the service stored the
    item, the client never hears of it."""
    service = httpx.HTTPTransport()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        forwarded = httpx.Request(
            request.method,
            service_url + request.url.raw_path.decode(),
            headers=request.headers,
            content=request.content,
        )
        response = service.handle_request(forwarded)
        response.read()
        if request.method == "POST" and sum(sent.method == "POST" for sent in seen) in posts_lost:
            raise lost(request)
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)

    return handler, seen


@pytest.mark.parametrize(
    "lost",
    [
        lambda request: httpx.ReadError("[Errno 9] Bad file descriptor", request=request),
        lambda request: httpx.RemoteProtocolError("Server disconnected without sending a response."),
        lambda request: httpx.ReadTimeout("timed out", request=request),
    ],
    ids=["read-error", "disconnected", "timeout"],
)
def test_a_create_whose_answer_was_lost_is_retried_and_stored_once(
    service: DemoService, lost: Callable[[httpx.Request], Exception]
) -> None:
    handler, seen = lose_answers(service.url, lost)
    client, sleeps = make_client(handler, retries=2)
    item = client.create_item("web", "kept once")
    assert len(seen) == 2 and len(sleeps) == 1
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]
    uuid.UUID(seen[0].headers["Idempotency-Key"], version=4)
    with service.api() as api:
        stored = api.get("/api/items").json()
    assert stored == [item], "the retry answered the item the first attempt stored, and nothing else"


def test_every_create_has_its_own_key(service: DemoService) -> None:
    lost = frozenset({1, 3})  # the first attempt of each create
    handler, seen = lose_answers(service.url, lambda request: httpx.ReadError("lost", request=request), lost)
    client, _ = make_client(handler, retries=1)
    first = client.create_item("same", None)
    second = client.create_item("same", None)
    keys = [request.headers["Idempotency-Key"] for request in seen]
    assert keys[0] == keys[1] != keys[2] == keys[3]
    assert first["id"] != second["id"]
    with service.api() as api:
        assert [item["id"] for item in api.get("/api/items").json()] == [first["id"], second["id"]]


def test_without_retries_a_lost_answer_is_still_an_error(service: DemoService) -> None:
    """retries = 0 keeps its meaning: one attempt, and its failure is reported, naming the attempt."""
    handler, seen = lose_answers(service.url, lambda request: httpx.ReadError("lost", request=request))
    client, _ = make_client(handler, retries=0)
    with pytest.raises(ServiceUnreachable, match=r"attempt 1 of 1"):
        client.create_item("n", None)
    assert len(seen) == 1


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


# --- the plain-http transport (provider._transport), against real sockets ---


def test_an_http_endpoint_loads_no_ca_bundle_but_https_does(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ca_bundle(*args: object, **kwargs: object) -> None:
        raise AssertionError("loaded a CA bundle")

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", no_ca_bundle)
    client = DemoappClient("http://127.0.0.1:9")
    assert isinstance(client._transport, HTTPConnectionTransport)
    with pytest.raises(AssertionError, match="CA bundle"):
        DemoappClient("https://127.0.0.1:9")


def test_kept_alive_connections_are_reused_and_a_closed_one_is_replaced(service: DemoService) -> None:
    client = DemoappClient(service.url, retries=0)
    transport = client._transport
    assert isinstance(transport, HTTPConnectionTransport)
    first = client.create_item("a", None)
    assert client.get_item(first["id"]) == first
    [connection] = transport._idle
    client.create_item("b", "x")
    assert list(transport._idle) == [connection], "one connection served every request"

    service.kill()
    service.start()  # the idle connection's server is gone: without retries, only a new connection works
    assert client.create_item("c", None)["name"] == "c"
    assert list(transport._idle) != [connection]


def test_threads_share_the_transport(service: DemoService) -> None:
    client = DemoappClient(service.url, retries=0, max_connections=8)
    with ThreadPoolExecutor(max_workers=32) as pool:
        items = list(pool.map(lambda i: client.create_item(f"item-{i}", None), range(200)))
    assert len({item["id"] for item in items}) == 200
    assert [item["name"] for item in items] == [f"item-{i}" for i in range(200)]
    transport = client._transport
    assert isinstance(transport, HTTPConnectionTransport) and len(transport._idle) <= 8


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_transport_failures_are_httpx_errors_that_the_retry_rules_know(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    client = DemoappClient(f"http://127.0.0.1:{port}", timeout=0.3, retries=0)
    with pytest.raises(ServiceUnreachable, match="attempt 1 of 1") as raised:
        client.get_item(1)  # accepted by the kernel, never answered
    assert "ReadTimeout" in raised.value.detail
    listener.accept()[0].close()  # that silent connection

    def read_then_close() -> None:
        connection = listener.accept()[0]
        connection.recv(65536)
        connection.close()

    closing = threading.Thread(target=read_then_close)
    closing.start()
    with pytest.raises(ServiceUnreachable) as raised:
        client.get_item(1)
    closing.join()
    assert "RemoteProtocolError" in raised.value.detail

    listener.close()
    sleeps: list[float] = []
    client = DemoappClient(f"http://127.0.0.1:{port}", retries=2, sleep=sleeps.append, jitter=lambda: 1.0)
    with pytest.raises(ServiceUnreachable, match="unreachable") as raised:
        client.create_item("n", None)
    assert sleeps == [0.25, 0.5], "connection refused is retried, with backoff"
