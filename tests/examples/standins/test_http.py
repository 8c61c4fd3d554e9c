"""data "http": responses, retries and validation, on httpx's mock transport and on real sockets."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from tf.iface import ReadDataContext
from tf.utils import Diagnostics

from examples.standins.http import HttpProvider
from examples.standins.http.data_source_http import HttpDataSource


def config(url: str, **values) -> dict:
    return {
        "url": url,
        "method": None,
        "request_headers": None,
        "request_body": None,
        "request_timeout_ms": None,
        "retry": None,
        "response_body": None,
        "body": None,
        "response_body_base64": None,
        "response_headers": None,
        "status_code": None,
        "id": None,
        **values,
    }


class Recorder:
    """A mock transport answering from a script of responses or exceptions, recording the requests."""

    def __init__(self, *script: httpx.Response | Exception):
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def read(
    handler: Callable[[httpx.Request], httpx.Response] | None, data: dict, delays: list[float] | None = None
) -> tuple[dict | None, Diagnostics]:
    transport = httpx.MockTransport(handler) if handler else None
    sleeps = delays if delays is not None else []
    source = HttpDataSource(HttpProvider(transport=transport, sleep=sleeps.append))
    diags = Diagnostics()
    return source.read(ReadDataContext(diags, "http"), data), diags


def test_get_exposes_body_headers_and_status() -> None:
    recorder = Recorder(
        httpx.Response(200, content=b'{"hostname":"demo"}', headers=[("content-type", "application/json")])
    )
    result, diags = read(recorder, config("http://127.0.0.1:9/api/system"))
    assert not diags.diagnostics
    assert result is not None
    assert result["response_body"] == result["body"] == '{"hostname":"demo"}'
    assert base64.b64decode(result["response_body_base64"]) == b'{"hostname":"demo"}'
    assert result["response_headers"]["Content-Type"] == "application/json"
    assert result["status_code"] == 200
    assert result["id"] == "http://127.0.0.1:9/api/system"
    assert recorder.requests[0].method == "GET"


def test_repeated_headers_are_joined() -> None:
    recorder = Recorder(httpx.Response(200, headers=[("x-a", "1"), ("x-a", "2")]))
    result, _ = read(recorder, config("http://127.0.0.1:9/"))
    assert result is not None and result["response_headers"]["X-A"] == "1, 2"


def test_non_2xx_is_not_an_error() -> None:
    result, diags = read(Recorder(httpx.Response(404, text="nope")), config("http://127.0.0.1:9/x"))
    assert not diags.has_errors()
    assert result is not None and (result["status_code"], result["response_body"]) == (404, "nope")


def test_post_sends_body_and_headers() -> None:
    recorder = Recorder(httpx.Response(201))
    data = config("http://127.0.0.1:9/", method="POST", request_body="hi", request_headers={"X-Token": "t"})
    result, _ = read(recorder, data)
    sent = recorder.requests[0]
    assert (sent.method, sent.content, sent.headers["x-token"]) == ("POST", b"hi", "t")
    assert result is not None and result["request_body"] == "hi"


def test_connection_refused_is_retried_with_backoff() -> None:
    refused = httpx.ConnectError("Connection refused")
    recorder = Recorder(refused, refused, refused, httpx.Response(200, text="up"))
    delays: list[float] = []
    retry = {"attempts": 5, "min_delay_ms": 100, "max_delay_ms": 250}
    result, diags = read(recorder, config("http://127.0.0.1:9/", retry=retry), delays)
    assert not diags.diagnostics
    assert result is not None and result["response_body"] == "up"
    assert delays == [0.1, 0.2, 0.25]
    assert len(recorder.requests) == 4


def test_connection_refused_after_the_last_attempt_is_an_error_on_url() -> None:
    refused = httpx.ConnectError("Connection refused")
    delays: list[float] = []
    retry = {"attempts": 1, "min_delay_ms": 10, "max_delay_ms": None}
    result, diags = read(Recorder(refused, refused), config("http://127.0.0.1:9/", retry=retry), delays)
    assert result is None
    assert [d.path for d in diags.diagnostics] == [["url"]]
    assert "after 2 attempt(s)" in (diags.diagnostics[0].detail or "")
    assert delays == [0.01]


def test_without_retry_one_failure_is_final() -> None:
    result, diags = read(Recorder(httpx.ConnectError("refused")), config("http://127.0.0.1:9/"))
    assert result is None and diags.has_errors()


def test_5xx_is_retried_then_returned() -> None:
    recorder = Recorder(httpx.Response(503), httpx.Response(502, text="bad gateway"))
    retry = {"attempts": 1, "min_delay_ms": 0, "max_delay_ms": 0}
    result, diags = read(recorder, config("http://127.0.0.1:9/", retry=retry))
    assert not diags.has_errors()
    assert result is not None and result["status_code"] == 502


def test_404_is_not_retried() -> None:
    recorder = Recorder(httpx.Response(404), httpx.Response(200))
    result, _ = read(recorder, config("http://127.0.0.1:9/", retry={"attempts": 3}))
    assert result is not None and result["status_code"] == 404
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"url": "ftp://127.0.0.1/"}, ["url"]),
        ({"method": "DELETE"}, ["method"]),
        ({"request_timeout_ms": 0}, ["request_timeout_ms"]),
        ({"retry": {"attempts": -1, "min_delay_ms": None, "max_delay_ms": None}}, ["retry", "attempts"]),
        ({"retry": {"attempts": 1, "min_delay_ms": 500, "max_delay_ms": 100}}, ["retry", "max_delay_ms"]),
    ],
)
def test_bad_configuration_names_the_attribute(values: dict, path: list) -> None:
    data = {**config("http://127.0.0.1:9/"), **values}
    source = HttpDataSource(HttpProvider())
    diags = Diagnostics()
    source.validate(diags, "http", data)
    assert [d.path for d in diags.diagnostics] == [path]
    result, read_diags = read(None, data)
    assert result is None and read_diags.has_errors()


@pytest.fixture
def late_server(free_port: Callable[[], int]) -> Iterator[tuple[int, Callable[[float], None]]]:
    """A port on 127.0.0.1 whose server starts only when the first retry delay is slept."""
    port = free_port()
    servers: list[http.server.HTTPServer] = []

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"started late")

        def log_message(self, *args: object) -> None:
            pass

    def start_server(seconds: float) -> None:
        if not servers:
            server = http.server.HTTPServer(("127.0.0.1", port), Hello)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)

    yield port, start_server
    for server in servers:
        server.shutdown()
        server.server_close()


def test_retry_rides_out_a_service_that_starts_late(late_server: tuple[int, Callable[[float], None]]) -> None:
    port, start_server = late_server
    source = HttpDataSource(HttpProvider(sleep=start_server))
    diags = Diagnostics()
    data = config(f"http://127.0.0.1:{port}/", retry={"attempts": 2, "min_delay_ms": 1, "max_delay_ms": 1})
    result = source.read(ReadDataContext(diags, "http"), data)
    assert not diags.diagnostics
    assert result is not None and (result["status_code"], result["response_body"]) == (200, "started late")


def test_refused_for_real_is_an_error(free_port: Callable[[], int]) -> None:
    source = HttpDataSource(HttpProvider(sleep=lambda seconds: None))
    diags = Diagnostics()
    data = config(f"http://127.0.0.1:{free_port()}/", retry={"attempts": 1})
    assert source.read(ReadDataContext(diags, "http"), data) is None
    assert "ConnectError" in (diags.diagnostics[0].detail or "")
