"""wait_healthy: what every tool that starts a service (bench, stress, provider tests) waits with."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import pytest

from demo_app import ServiceExited, wait_healthy


class _BootingHealth(http.server.BaseHTTPRequestHandler):
    """/health answers 503 for the first requests, as a store that is still opening, then 200."""

    unhealthy_answers = 3
    seen = 0

    def do_GET(self) -> None:
        type(self).seen += 1
        self.send_response(200 if type(self).seen > self.unhealthy_answers else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def booting_service() -> Iterator[str]:
    _BootingHealth.seen = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BootingHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_waits_through_unhealthy_answers_until_200(booting_service: str) -> None:
    wait_healthy(booting_service, timeout=10, interval=0.01)
    assert _BootingHealth.seen == _BootingHealth.unhealthy_answers + 1


def test_a_dead_process_stops_the_wait_at_once(booting_service: str) -> None:
    with pytest.raises(ServiceExited, match="exited while starting"):
        wait_healthy(booting_service, timeout=10, is_alive=lambda: False)
    assert _BootingHealth.seen == 0


def test_nothing_listening_times_out(free_port: Callable[[], int]) -> None:
    with pytest.raises(TimeoutError, match="not healthy within"):
        wait_healthy(f"http://127.0.0.1:{free_port()}", timeout=0.3, interval=0.05)
