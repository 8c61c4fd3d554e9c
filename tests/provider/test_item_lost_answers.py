"""End to end: creates whose answers are lost after the service stored them leave no orphans.

The stress test saw it once (`httpx.ReadError` after a 201 in the service log); here a proxy between the
provider and the service makes it happen to every create: it forwards the first attempt of each
create, then closes the connection without answering.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform, provider_block

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

ITEMS = 20


class AnswerLosingProxy(ThreadingHTTPServer):
    """Forwards every request to ``upstream``; the answer to the first POST of each body is dropped
    after the upstream handled it (by body, so a client sending no key loses its answers too)."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ForwardingHandler)
        self.upstream = httpx.Client(base_url=upstream, timeout=30)
        self.lock = threading.Lock()
        self.bodies_seen: set[bytes] = set()
        self.answers_lost = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def first_post(self, method: str, body: bytes) -> bool:
        if method != "POST":
            return False
        with self.lock:
            if body in self.bodies_seen:
                return False
            self.bodies_seen.add(body)
            self.answers_lost += 1
            return True


class _ForwardingHandler(BaseHTTPRequestHandler):
    server: AnswerLosingProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
        answer = self.server.upstream.request(self.command, self.path, content=body, headers=headers)
        if self.server.first_post(self.command, body):
            self.close_connection = True  # stored upstream; the client gets no answer at all
            return
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def losing_proxy(service: DemoService) -> Iterator[AnswerLosingProxy]:
    proxy = AnswerLosingProxy(service.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    proxy.upstream.close()


def test_lost_create_answers_are_retried_without_orphans_or_duplicates(
    terraform: Terraform, service: DemoService, losing_proxy: AnswerLosingProxy
) -> None:
    items = "".join(
        f'resource "demoapp_item" "i{index}" {{\n  name = "item {index}"\n}}\n' for index in range(ITEMS)
    )
    terraform.write(REQUIRED_PROVIDERS + provider_block(losing_proxy.url, retries=2) + items)
    terraform.init()
    terraform.apply("-parallelism=10")
    assert losing_proxy.answers_lost == ITEMS, "every create lost its first answer"

    shown = json.loads(terraform.run("show", "-json", "-no-color").stdout)
    state_ids = sorted(int(r["values"]["id"]) for r in shown["values"]["root_module"]["resources"])
    with service.api() as api:
        server_items = api.get("/api/items").json()
    assert sorted(item["id"] for item in server_items) == state_ids, "no orphan, no duplicate"
    assert sorted(item["name"] for item in server_items) == sorted(f"item {i}" for i in range(ITEMS))

    terraform.destroy()
    with service.api() as api:
        assert api.get("/api/items").json() == [], "destroy removed every item the service stored"
