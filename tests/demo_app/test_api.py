"""The HTTP API, in-process over ASGI: items, display, system, health, metrics, errors, auth, headers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from demo_app import App, canonical_hash
from demo_app.store import MemoryEngine, StoreBusy, StoreError

pytestmark = pytest.mark.anyio

ERROR_SHAPE = {"error", "field"}


def assert_error(response: httpx.Response, status: int, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_SHAPE
    assert isinstance(body["error"], str) and body["error"]
    assert body["field"] == field


# Items -------------------------------------------------------------------------------------------------


async def test_create_then_read_an_item(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/items", json={"name": "web", "description": "a server"})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    item = created.json()
    assert item == {
        "id": 1,
        "name": "web",
        "description": "a server",
        "created_at": "2026-01-01T00:00:01.000000Z",
        "updated_at": "2026-01-01T00:00:01.000000Z",
    }
    assert (await api.get("/api/items/1")).json() == item


async def test_description_keeps_null_and_empty_apart(api: httpx.AsyncClient) -> None:
    missing = (await api.post("/api/items", json={"name": "a"})).json()
    null = (await api.post("/api/items", json={"name": "b", "description": None})).json()
    empty = (await api.post("/api/items", json={"name": "c", "description": ""})).json()
    assert (missing["description"], null["description"], empty["description"]) == (None, None, "")


async def test_list_is_in_numeric_order_with_paging(api: httpx.AsyncClient) -> None:
    for index in range(12):
        await api.post("/api/items", json={"name": f"item {index}"})
    everything = await api.get("/api/items")
    assert [item["id"] for item in everything.json()] == list(range(1, 13)), "10 after 9, not after 1"
    assert "x-next-after" not in everything.headers
    first = await api.get("/api/items", params={"limit": 5})
    assert [item["id"] for item in first.json()] == [1, 2, 3, 4, 5]
    assert first.headers["x-next-after"] == "5"
    second = await api.get("/api/items", params={"limit": 5, "after": first.headers["x-next-after"]})
    assert [item["id"] for item in second.json()] == [6, 7, 8, 9, 10]
    last = await api.get("/api/items", params={"limit": 5, "after": 10})
    assert [item["id"] for item in last.json()] == [11, 12]
    assert "x-next-after" not in last.headers
    assert (await api.get("/api/items", params={"after": 12})).json() == []


async def test_empty_list(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/items")
    assert response.status_code == 200
    assert response.json() == []


async def test_list_etag_answers_304_until_something_changes(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a"})
    first = await api.get("/api/items")
    etag = first.headers["etag"]
    unchanged = await api.get("/api/items", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    await api.patch("/api/items/1", json={"name": "b"})
    changed = await api.get("/api/items", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


@pytest.mark.parametrize("store", ["memory", "lsm", "sqlite"])
async def test_list_reflects_every_write_at_once(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient], store: str
) -> None:
    """Lists are cached between writes; no write may leave a stale list behind."""
    async with client_for(make_app(store=store)) as api:

        async def names() -> list[tuple[str, str | None]]:
            return [(item["name"], item["description"]) for item in (await api.get("/api/items")).json()]

        assert await names() == []
        await api.post("/api/items", json={"name": "a"})
        assert await names() == [("a", None)]
        await api.put("/api/items/1", json={"name": "b"})
        assert await names() == [("b", None)]
        await api.patch("/api/items/1", json={"description": "d"})
        assert await names() == [("b", "d")]
        await api.post("/api/items", json={"name": "c"})
        assert (await api.get("/api/items", params={"limit": 1})).headers["x-next-after"] == "1"
        await api.delete("/api/items/1")
        assert await names() == [("c", None)]
        assert "x-next-after" not in (await api.get("/api/items", params={"limit": 1})).headers


async def test_put_replaces_whole_item(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a", "description": "d"})
    replaced = await api.put("/api/items/1", json={"name": "b"})
    assert replaced.status_code == 200
    item = replaced.json()
    assert (item["name"], item["description"]) == ("b", None), "a missing description becomes null"
    assert item["created_at"] == "2026-01-01T00:00:01.000000Z"
    assert item["updated_at"] > item["created_at"]
    assert (await api.get("/api/items/1")).json() == item


async def test_patch_changes_only_given_fields(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a", "description": "d"})
    renamed = (await api.patch("/api/items/1", json={"name": "b"})).json()
    assert (renamed["name"], renamed["description"]) == ("b", "d")
    cleared = (await api.patch("/api/items/1", json={"description": None})).json()
    assert (cleared["name"], cleared["description"]) == ("b", None)
    untouched = await api.patch("/api/items/1", json={})
    assert untouched.status_code == 200
    assert untouched.json()["name"] == "b"
    assert untouched.json()["updated_at"] > cleared["updated_at"]


async def test_delete_then_gone(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a"})
    deleted = await api.delete("/api/items/1")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(await api.get("/api/items/1"), 404, "id")
    assert_error(await api.delete("/api/items/1"), 404, "id")
    assert_error(await api.put("/api/items/1", json={"name": "x"}), 404, "id")
    assert_error(await api.patch("/api/items/1", json={"name": "x"}), 404, "id")
    again = await api.post("/api/items", json={"name": "b"})
    assert again.json()["id"] == 2, "ids are never reused"


# Errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (b'"name"', "body"),
        (b"{}", "name"),
        (b'{"description": "d"}', "name"),
        (b'{"name": ""}', "name"),
        (b'{"name": null}', "name"),
        (b'{"name": 42}', "name"),
        (b'{"name": ["a"]}', "name"),
        (b'{"name": "' + b"x" * 257 + b'"}', "name"),
        (b'{"name": "ok", "description": 5}', "description"),
        (b'{"name": "ok", "description": {"a": 1}}', "description"),
        (b'{"name": "\\ud800"}', "body"),
    ],
)
async def test_bad_item_bodies_answer_400_naming_the_field(
    api: httpx.AsyncClient, body: bytes, field: str
) -> None:
    headers = {"content-type": "application/json"}
    assert_error(await api.post("/api/items", content=body, headers=headers), 400, field)
    await api.post("/api/items", json={"name": "exists"})
    assert_error(await api.put("/api/items/1", content=body, headers=headers), 400, field)
    assert (await api.get("/api/items")).json()[0]["name"] == "exists"


async def test_name_of_exactly_256_characters_is_accepted(api: httpx.AsyncClient) -> None:
    name = "é" * 256
    response = await api.post("/api/items", json={"name": name})
    assert response.status_code == 201
    assert response.json()["name"] == name


async def test_patch_validates_given_fields(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a"})
    assert_error(await api.patch("/api/items/1", json={"name": ""}), 400, "name")
    assert_error(await api.patch("/api/items/1", json={"name": None}), 400, "name")
    assert_error(await api.patch("/api/items/1", json={"description": 1}), 400, "description")


@pytest.mark.parametrize("segment", ["abc", "-1", "1.5", "1e3", "٣", "99999999999999999999", "%20"])
async def test_non_integer_ids_answer_400(api: httpx.AsyncClient, segment: str) -> None:
    assert_error(await api.get(f"/api/items/{segment}"), 400, "id")
    assert_error(await api.delete(f"/api/items/{segment}"), 400, "id")


async def test_unknown_id_answers_404(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/items/0"), 404, "id")
    assert_error(await api.get("/api/items/9223372036854775807"), 404, "id")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=x", "limit"),
        ("limit=", "limit"),
        ("after=-1", "after"),
    ],
)
async def test_bad_paging_answers_400(api: httpx.AsyncClient, query: str, field: str) -> None:
    assert_error(await api.get(f"/api/items?{query}"), 400, field)


async def test_oversized_bodies_answer_413(api: httpx.AsyncClient) -> None:
    big_item = json.dumps({"name": "a", "description": "x" * 70_000})
    assert_error(await api.post("/api/items", content=big_item), 413, "body")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    # Without a Content-Length the body is counted as it streams in.
    assert_error(await api.post("/api/items", content=chunks()), 413, "body")
    big_display = b'"' + b"x" * (1024 * 1024) + b'"'
    assert_error(await api.put("/api/display", content=big_display), 413, "body")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/items", "GET, POST"),
        ("POST", "/api/items/1", "GET, PUT, PATCH, DELETE"),
        ("PATCH", "/api/display", "GET, PUT, POST, DELETE"),
        ("POST", "/health", "GET"),
        ("PUT", "/", "GET"),
    ],
)
async def test_wrong_method_answers_405_with_allow(
    api: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await api.request(method, path)
    assert_error(response, 405, None)
    assert response.headers["allow"] == allow


async def test_unknown_path_answers_404_json(api: httpx.AsyncClient) -> None:
    assert_error(await api.get("/api/nothing"), 404, None)
    assert_error(await api.get("/api/items/1/extra"), 404, None)


class FailingEngine(MemoryEngine):
    def __init__(self, error: StoreError) -> None:
        super().__init__()
        self.error = error

    def next_sequence(self, name: bytes) -> int:
        raise self.error

    def create(self, sequence: bytes, record: Callable[[int], tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
        raise self.error

    def ping(self) -> None:
        raise self.error


async def test_store_busy_answers_503_with_retry_after(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    async with client_for(make_app(FailingEngine(StoreBusy("database is locked")))) as api:
        response = await api.post("/api/items", json={"name": "a"})
        assert_error(response, 503, None)
        assert response.json()["error"] == "store busy: database is locked"
        assert response.headers["retry-after"] == "1"
        metrics = (await api.get("/metrics")).text
        assert 'demoapp_store_errors_total{engine="memory",kind="locked"} 1.0' in metrics


async def test_health_is_503_when_the_store_does_not_answer(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    async with client_for(make_app(FailingEngine(StoreError("disk gone")))) as api:
        response = await api.get("/health")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert_error(await api.post("/api/items", json={"name": "a"}), 503, None)


async def test_health_is_200_with_timestamp_and_store(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "timestamp": "2026-01-01T00:00:01.000000Z", "store": "memory"}


# Display -----------------------------------------------------------------------------------------------


async def test_display_is_empty_object_until_set(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/display")
    assert response.status_code == 200
    assert response.content == b"{}"
    assert "etag" not in response.headers
    assert "x-display-updated-at" not in response.headers


async def test_display_round_trips_byte_for_byte_with_canonical_hash(api: httpx.AsyncClient) -> None:
    document = b'{ "b": [1, 2.50, "\\u00e9"],\n  "a": {"z": null, "y": true} }'
    put = await api.put("/api/display", content=document)
    assert put.status_code == 200
    meta = put.json()
    expected_hash = hashlib.sha256(
        json.dumps(json.loads(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert meta == {"hash": expected_hash, "updated_at": "2026-01-01T00:00:01.000000Z", "size": len(document)}
    got = await api.get("/api/display")
    assert got.content == document
    assert got.headers["etag"] == f'"{expected_hash}"'
    assert got.headers["x-display-updated-at"] == meta["updated_at"]
    assert (await api.get("/api/display", headers={"If-None-Match": got.headers["etag"]})).status_code == 304


async def test_display_hash_ignores_key_order_and_whitespace(api: httpx.AsyncClient) -> None:
    first = (await api.put("/api/display", content=b'{"a":1,"b":[true]}')).json()["hash"]
    second = (await api.post("/api/display", content=b'{ "b" : [ true ] , "a" : 1 }')).json()["hash"]
    assert first == second == canonical_hash({"a": 1, "b": [True]})


async def test_display_post_answers_201_and_delete_empties(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/display", json=[1, 2])).status_code == 201
    assert (await api.get("/api/display")).json() == [1, 2]
    deleted = await api.delete("/api/display")
    assert deleted.status_code == 204
    assert (await api.get("/api/display")).content == b"{}"
    assert (await api.delete("/api/display")).status_code == 204, "deleting an empty display is fine"


@pytest.mark.parametrize(
    "document",
    [b"", b"{", b"NaN", b'{"a": Infinity}', b"\xff", b'"\\ud800"', b"[" * 100_000 + b"]" * 100_000],
)
async def test_display_refuses_what_is_not_json(api: httpx.AsyncClient, document: bytes) -> None:
    assert_error(await api.put("/api/display", content=document), 400, "body")
    assert (await api.get("/api/display")).content == b"{}"


async def test_display_accepts_any_json_up_to_one_mebibyte(api: httpx.AsyncClient) -> None:
    document = json.dumps({"blob": "x" * (1024 * 1024 - 20)}).encode()
    assert len(document) <= 1024 * 1024
    assert (await api.put("/api/display", content=document)).status_code == 200
    assert (await api.get("/api/display")).content == document
    for scalar in (b"0", b"null", b'"text"', b"12345678901234567890123"):
        assert (await api.put("/api/display", content=scalar)).status_code == 200
        assert (await api.get("/api/display")).content == scalar


# System, metrics, OpenAPI ----------------------------------------------------------------------------


async def test_system_facts_hide_credentials(api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMOAPP_TOKEN", "s3cret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    monkeypatch.setenv("TZ", "UTC")
    response = await api.get(
        "/api/system",
        headers={
            "Authorization": "Bearer s3cret",
            "Cookie": "session=1",
            "User-Agent": "tester/1",
            "X-Demo": "yes",
        },
    )
    facts = response.json()
    assert isinstance(facts["ips"], list)
    assert all(isinstance(ip, str) for ip in facts["ips"])
    assert facts["user_agent"] == "tester/1"
    assert facts["client_ip"] == "127.0.0.1"
    assert facts["store"]["engine"] == "memory"
    assert facts["headers"]["x-demo"] == "yes"
    assert not {"authorization", "cookie"} & {name.lower() for name in facts["headers"]}
    assert facts["environment"].get("TZ") == "UTC"
    assert "s3cret" not in response.text and "nope" not in response.text
    for key in ("hostname", "platform", "python", "pid", "uptime_seconds", "version"):
        assert key in facts


async def test_metrics_use_route_templates(api: httpx.AsyncClient) -> None:
    await api.post("/api/items", json={"name": "a"})
    await api.get("/api/items/1")
    await api.get("/api/items/12345")
    response = await api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'demoapp_http_requests_total{method="GET",path="/api/items/{id}",status="200"} 1.0' in text
    assert 'demoapp_http_requests_total{method="GET",path="/api/items/{id}",status="404"} 1.0' in text
    assert "/api/items/12345" not in text
    assert 'demoapp_http_request_duration_seconds_count{method="POST",path="/api/items"} 1.0' in text
    assert "demoapp_items_total 1.0" in text
    assert 'demoapp_info{engine="memory",version="0.1.0"} 1.0' in text
    # A create is one store write: the id and the item together.
    assert 'demoapp_store_write_seconds_count{engine="memory",op="create"} 1.0' in text
    assert 'demoapp_store_write_seconds_count{engine="memory",op="put"} 0.0' in text
    assert 'demoapp_store_write_seconds_count{engine="memory",op="sequence"} 0.0' in text


async def test_openapi_describes_every_route(api: httpx.AsyncClient, make_app: Callable[..., App]) -> None:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    app = make_app()
    for route, methods in app._routes.items():
        if route in ("/openapi.json",) or route == "/" or route.startswith("/static/"):
            continue
        assert route in document["paths"], route
        assert set(document["paths"][route]) - {"parameters"} == {method.lower() for method in methods}, route


# Auth and headers ----------------------------------------------------------------------------------------


async def test_token_guards_writes(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    async with client_for(make_app(token="t0ken")) as api:
        assert_error(await api.post("/api/items", json={"name": "a"}), 401, "Authorization")
        wrong = await api.post("/api/items", json={"name": "a"}, headers={"Authorization": "Bearer nope"})
        assert_error(wrong, 401, "Authorization")
        basic = await api.post("/api/items", json={"name": "a"}, headers={"Authorization": "Basic t0ken"})
        assert_error(basic, 401, "Authorization")
        good = await api.post("/api/items", json={"name": "a"}, headers={"Authorization": "Bearer t0ken"})
        assert good.status_code == 201
        assert (await api.get("/api/items")).status_code == 200, "reads stay open without --token-reads"
        assert (await api.get("/health")).status_code == 200


async def test_token_reads_guards_reads_but_not_health_or_page(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    async with client_for(make_app(token="t0ken", token_reads=True)) as api:
        assert_error(await api.get("/api/items"), 401, "Authorization")
        assert_error(await api.get("/metrics"), 401, "Authorization")
        assert (await api.get("/api/items", headers={"Authorization": "Bearer t0ken"})).status_code == 200
        assert (await api.get("/health")).status_code == 200
        assert (await api.get("/")).status_code == 200


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/style.css"])
async def test_the_page_may_load_its_own_script_and_style_only(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'none';")
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/api/items", "/health", "/metrics", "/openapi.json", "/nothing"])
async def test_api_answers_may_load_nothing_and_never_be_framed(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_page_and_assets_are_served_with_types_and_etags(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/static/app.js"' in page.text
    assert "<script>" not in page.text, "no inline script: the CSP forbids it"
    script = await api.get("/static/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = await api.get("/static/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304


async def test_engines_agree_through_the_api(
    make_app: Callable[..., App], client_for: Callable[[App], httpx.AsyncClient]
) -> None:
    results = {}
    for store in ("memory", "lsm", "sqlite"):
        async with client_for(make_app(store=store)) as api:
            for index in range(3):
                await api.post("/api/items", json={"name": f"n{index}"})
            await api.patch("/api/items/2", json={"description": "two"})
            await api.delete("/api/items/1")
            results[store] = [
                (i["id"], i["name"], i["description"]) for i in (await api.get("/api/items")).json()
            ]
    assert results["memory"] == results["lsm"] == results["sqlite"] == [(2, "n1", "two"), (3, "n2", None)]
