"""Display data and item names are untrusted: the page shows them as text and runs none of them.

Headless Debian Chromium (Playwright) loads the page of a live service holding payloads that, if any ran,
would set `window.__pwned` and fetch a marker URL. Checked twice: with the service's CSP, and with the
CSP bypassed, so the page's own rendering is proven safe and not only the policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser

from provider.acceptance import DemoService
from tests.reliability.conftest import Tally

MARKER = "/__pwned"


def _payload(tag: str) -> str:
    return f"window.__pwned='{tag}';fetch('{MARKER}?{tag}')"


# Single quotes only, so pretty-printed JSON shows each string exactly as written.
PAYLOADS = {
    "script": f"<script>{_payload('script')}</script>",
    "img": f"<img src=x onerror={_payload('img')}>",
    "svg": f"<svg onload={_payload('svg')}></svg>",
    "link": f"<a href='javascript:{_payload('link')}'>click</a>",
    "url": f"javascript:{_payload('url')}",
    "iframe": f"<iframe src='javascript:{_payload('iframe')}'></iframe>",
    "style": f"<style>@import 'http://127.0.0.1:1{MARKER}?style';</style>",
}


@pytest.mark.slow
@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "csp-bypassed"])
def test_hostile_display_and_items_are_shown_as_text_and_never_run(
    bypass_csp: bool, start_service: Callable[..., DemoService], tally: Tally, chromium: Browser
) -> None:
    from playwright.sync_api import Dialog, expect

    service = start_service("--store", "memory")
    document = {"title": "xss probe", **PAYLOADS, f"<b onmouseover={_payload('key')}>key</b>": "in a key"}
    with service.api() as api:
        assert api.put("/api/display", content=json.dumps(document)).status_code == 200
        for name, payload in PAYLOADS.items():
            assert api.post(
                "/api/items", json={"name": payload, "description": f"{name} {payload}"}
            ).is_success

    marker_requests: list[str] = []
    dialogs: list[str] = []
    policy_violations: list[str] = []

    def record_marker(url: str) -> None:
        if MARKER in url:
            marker_requests.append(url)

    def record_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def record_violation(text: str) -> None:
        if "Content Security Policy" in text:
            policy_violations.append(text)

    context = chromium.new_context(bypass_csp=bypass_csp)
    page = context.new_page()
    page.on("request", lambda request: record_marker(request.url))
    page.on("dialog", record_dialog)
    page.on("console", lambda message: record_violation(message.text))
    page.goto(service.url, wait_until="networkidle")
    body = page.locator("body")
    expect(body).to_contain_text("xss probe", timeout=15_000)
    for payload in PAYLOADS.values():
        expect(body).to_contain_text(payload)
    # Hover and click everything the page rendered, as a curious presenter would.
    for element in page.locator("main *").all()[:200]:
        if element.is_visible():
            element.hover(timeout=2_000)
    page.wait_for_timeout(1_000)
    pwned = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
    javascript_links = page.locator("[href^='javascript:' i], [src^='javascript:' i]").count()
    injected_elements = page.locator("main script, main img[onerror], main svg[onload], main iframe").count()
    assert pwned is None, f"a payload ran: {pwned}"
    assert marker_requests == [] and dialogs == []
    assert javascript_links == 0 and injected_elements == 0
    # With the CSP on, a violation would mean some payload became markup and was only stopped by the policy.
    assert policy_violations == []
    tally.cases = len(PAYLOADS) * 2 + 1
