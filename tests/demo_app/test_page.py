"""The live page in headless Chromium (Playwright) against a real server: untrusted data shows as text,
every panel follows API changes within 2 s, and add/edit/delete work from the page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from tests.demo_app.conftest import ServiceProcess

pytestmark = pytest.mark.slow

LIVE_MS = 2000  # the page's promise: any change through the API shows within 2 s
XSS = {
    "script": "<script>window.__pwned = 'script'</script>",
    "img": "<img src=x onerror=\"window.__pwned = 'img'\">",
    "link": "javascript:window.__pwned = 'link'",
}


@pytest.fixture
def server_flags() -> tuple[str, ...]:
    return ()


@pytest.fixture
def page(
    service: Callable[..., ServiceProcess], tmp_path: Path, server_flags: tuple[str, ...], chromium: Browser
) -> Iterator[tuple[object, ServiceProcess]]:
    server = service("--store", "memory", "--log-level", "warning", *server_flags)
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.goto(server.url + "/")
    yield tab, server
    tab.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    context.close()
    csp_violations = [error for error in errors if "Content Security Policy" in error]
    assert not csp_violations, csp_violations


def test_untrusted_display_and_items_show_as_text(page: tuple[object, ServiceProcess]) -> None:
    from playwright.sync_api import Page, expect

    tab, server = page
    assert isinstance(tab, Page)
    with httpx.Client(base_url=server.url) as api:
        api.put("/api/display", content=json.dumps(XSS).encode())
        api.post("/api/items", json={"name": XSS["img"], "description": XSS["script"]})
    display = tab.get_by_test_id("display-json")
    # Shown as JSON strings (so with their quotes escaped), and never as markup.
    for payload in XSS.values():
        expect(display).to_contain_text(json.dumps(payload), timeout=LIVE_MS + 1000)
    row = tab.get_by_test_id("item-row").first
    expect(row.get_by_test_id("item-name")).to_have_text(XSS["img"], timeout=LIVE_MS + 1000)
    expect(row.get_by_test_id("item-description")).to_have_text(XSS["script"])
    assert (
        tab.locator("#display-json img, #display-json script, #items-list img, #items-list script").count()
        == 0
    )
    assert tab.evaluate("window.__pwned") is None
    assert json.loads(display.text_content() or "") == XSS, "the display shows the document as pretty JSON"


def test_every_panel_follows_api_changes_within_two_seconds(page: tuple[object, ServiceProcess]) -> None:
    from playwright.sync_api import Page, expect

    tab, server = page
    assert isinstance(tab, Page)
    expect(tab.get_by_test_id("status")).to_have_attribute("data-state", "ok", timeout=LIVE_MS + 1000)
    expect(tab.get_by_test_id("system-store")).to_have_text("memory", timeout=LIVE_MS + 1000)
    expect(tab.get_by_test_id("items-empty")).to_be_visible()
    expect(tab.get_by_test_id("token-form")).to_be_hidden()
    with httpx.Client(base_url=server.url) as api:
        api.post("/api/items", json={"name": "first"})
        rows = tab.get_by_test_id("item-row")
        expect(rows).to_have_count(1, timeout=LIVE_MS)
        expect(rows.first.get_by_test_id("item-name")).to_have_text("first")
        expect(tab.get_by_test_id("items-count")).to_have_text("1")

        api.patch("/api/items/1", json={"name": "renamed", "description": "now described"})
        expect(rows.first.get_by_test_id("item-name")).to_have_text("renamed", timeout=LIVE_MS)
        expect(rows.first.get_by_test_id("item-description")).to_have_text("now described")

        api.put("/api/display", json={"stage": 1})
        expect(tab.get_by_test_id("display-json")).to_have_text('{\n  "stage": 1\n}', timeout=LIVE_MS)
        api.put("/api/display", json={"stage": 2})
        expect(tab.get_by_test_id("display-json")).to_have_text('{\n  "stage": 2\n}', timeout=LIVE_MS)

        api.delete("/api/items/1")
        expect(rows).to_have_count(0, timeout=LIVE_MS)
        api.delete("/api/display")
        expect(tab.get_by_test_id("display-json")).to_have_text("{}", timeout=LIVE_MS)


def test_add_edit_and_delete_from_the_page(page: tuple[object, ServiceProcess]) -> None:
    from playwright.sync_api import Page, expect

    tab, server = page
    assert isinstance(tab, Page)
    tab.get_by_test_id("item-name-input").fill("from the page")
    tab.get_by_test_id("item-description-input").fill("typed")
    tab.get_by_test_id("item-submit").click()
    row = tab.get_by_test_id("item-row").first
    expect(row.get_by_test_id("item-name")).to_have_text("from the page", timeout=LIVE_MS)
    with httpx.Client(base_url=server.url) as api:
        assert [(i["name"], i["description"]) for i in api.get("/api/items").json()] == [
            ("from the page", "typed")
        ]

        row.get_by_test_id("item-edit").click()
        row.get_by_test_id("item-edit-name").fill("edited")
        row.get_by_test_id("item-save").click()
        expect(tab.get_by_test_id("item-row").first.get_by_test_id("item-name")).to_have_text("edited")
        assert api.get("/api/items/1").json()["name"] == "edited"

        tab.get_by_test_id("item-row").first.get_by_test_id("item-delete").click()
        expect(tab.get_by_test_id("item-row")).to_have_count(0, timeout=LIVE_MS)
        assert api.get("/api/items/1").status_code == 404

    tab.get_by_test_id("item-name-input").fill("x")
    tab.get_by_test_id("item-name-input").evaluate("input => input.value = ''")
    tab.get_by_test_id("item-name-input").evaluate("input => input.removeAttribute('required')")
    tab.get_by_test_id("item-submit").click()
    expect(tab.get_by_test_id("items-error")).to_have_text("name must not be empty (name)")


@pytest.mark.parametrize("server_flags", [("--token", "page-token", "--token-reads")])
def test_page_asks_for_the_token_when_reads_need_one(page: tuple[object, ServiceProcess]) -> None:
    from playwright.sync_api import Page, expect

    tab, server = page
    assert isinstance(tab, Page)
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer page-token"}) as api:
        api.post("/api/items", json={"name": "guarded"})
    expect(tab.get_by_test_id("token-form")).to_be_visible(timeout=LIVE_MS + 1000)
    expect(tab.get_by_test_id("item-row")).to_have_count(0)
    tab.get_by_test_id("token-input").fill("page-token")
    tab.get_by_test_id("token-input").press("Enter")
    expect(tab.get_by_test_id("token-form")).to_be_hidden()
    expect(tab.get_by_test_id("item-row").first.get_by_test_id("item-name")).to_have_text(
        "guarded", timeout=LIVE_MS
    )
    tab.get_by_test_id("item-name-input").fill("added with the token")
    tab.get_by_test_id("item-submit").click()
    expect(tab.get_by_test_id("item-row")).to_have_count(2, timeout=LIVE_MS)
