"""The real `demo-app serve` (granian) on 127.0.0.1: concurrency, crash safety, shutdown, logs, CLI."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.demo_app.conftest import DEMO_APP, ServiceProcess

pytestmark = pytest.mark.slow

StartService = Callable[..., ServiceProcess]


async def _post_simultaneously(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(client.post("/api/items", json={"name": f"concurrent {index}"}) for index in range(count))
        )


@pytest.mark.parametrize("store", ["lsm", "memory"])
def test_500_simultaneous_posts_all_succeed_with_distinct_ids(service: StartService, store: str) -> None:
    server = service("--store", store, "--log-level", "warning")
    responses = asyncio.run(_post_simultaneously(server.url, 500))
    assert [response.status_code for response in responses] == [201] * 500
    ids = [response.json()["id"] for response in responses]
    assert len(set(ids)) == 500
    assert sorted(ids) == list(range(1, 501)), "one atomic sequence, no gaps"
    with httpx.Client(base_url=server.url) as client:
        listed = client.get("/api/items").json()
        assert [item["id"] for item in listed] == list(range(1, 501))
        for response in responses[::50]:
            item = response.json()
            assert client.get(f"/api/items/{item['id']}").json() == item


def test_persistent_lsm_survives_kill_9(service: StartService, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = service("--data-dir", str(data))
    with httpx.Client(base_url=first.url) as client:
        created = [client.post("/api/items", json={"name": f"n{index}"}).json() for index in range(20)]
        client.delete("/api/items/3")
        client.patch("/api/items/4", json={"description": "patched"})
        client.put("/api/display", content=b'{"kept": true}')
    first.signal(signal.SIGKILL)
    first.wait()
    second = service("--data-dir", str(data))
    with httpx.Client(base_url=second.url) as client:
        items = client.get("/api/items").json()
        assert [item["id"] for item in items] == [item["id"] for item in created if item["id"] != 3]
        assert client.get("/api/items/4").json()["description"] == "patched"
        assert client.get("/api/display").content == b'{"kept": true}'
        assert client.post("/api/items", json={"name": "after"}).json()["id"] == 21, "the sequence survives"


def test_sigterm_stops_gracefully_and_removes_the_ephemeral_store(service: StartService) -> None:
    server = service("--store", "lsm")
    with httpx.Client(base_url=server.url) as client:
        client.post("/api/items", json={"name": "a"})
        worker_pid = client.get("/api/system").json()["pid"]
    shm = Path("/dev/shm")
    own_dirs = list(shm.glob(f"demoapp-lsm-{worker_pid}-*")) if shm.is_dir() else []
    if shm.is_dir():
        assert len(own_dirs) == 1, "the ephemeral store lives on tmpfs"
    server.signal(signal.SIGTERM)
    assert server.wait() == 0
    assert all(not directory.exists() for directory in own_dirs)
    assert "shutdown completed" in server.log.read_text()


def test_log_lines_are_json_one_per_request_without_secrets(service: StartService) -> None:
    server = service("--store", "memory", "--token", "very-secret-token")
    with httpx.Client(base_url=server.url) as client:
        client.post("/api/items", json={"name": "a"}, headers={"Authorization": "Bearer very-secret-token"})
        client.get("/api/items/1?debug=very-secret-token", headers={"Cookie": "session=cookie-value"})
        client.get("/api/system")
    server.signal(signal.SIGTERM)
    server.wait()
    text = server.log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "demo_app.access"]
    assert [(line["method"], line["path"], line["status"]) for line in access[-3:]] == [
        ("POST", "/api/items", 201),
        ("GET", "/api/items/1", 200),
        ("GET", "/api/system", 200),
    ]
    assert "very-secret-token" not in text
    assert "cookie-value" not in text


def test_sqlite_parallel_writes_answer_503_never_500_nor_hang(service: StartService) -> None:
    server = service("--store", "sqlite", "--log-level", "warning")
    # Collisions are likely in any burst, not certain in one: a few bursts make the test deterministic enough.
    responses: list[httpx.Response] = []
    for _ in range(5):
        burst = asyncio.run(_post_simultaneously(server.url, 300))
        responses += burst
        if any(response.status_code == 503 for response in burst):
            break
    statuses = {response.status_code for response in responses}
    assert statuses <= {201, 503}, statuses
    busy = [response for response in responses if response.status_code == 503]
    for response in busy:
        assert response.json() == {"error": "store busy: database is locked", "field": None}
        assert response.headers["retry-after"] == "1"
    created = [response.json()["id"] for response in responses if response.status_code == 201]
    assert len(set(created)) == len(created)
    assert busy, "parallel writers on SQLite's shared cache collide, as in the Go project"
    with httpx.Client(base_url=server.url) as client:
        metrics = client.get("/metrics").text
    assert f'demoapp_store_errors_total{{engine="sqlite",kind="locked"}} {float(len(busy))}' in metrics


def test_healthcheck_command(service: StartService, free_port: Callable[[], int]) -> None:
    server = service("--store", "memory")
    ok = subprocess.run(
        [DEMO_APP, "healthcheck", "--url", f"{server.url}/health"], capture_output=True, check=False
    )
    assert ok.returncode == 0
    env = {"DEMOAPP_PORT": str(server.port), "PATH": "/usr/bin:/bin"}
    assert subprocess.run([DEMO_APP, "healthcheck"], env=env, check=False).returncode == 0
    down = subprocess.run(
        [DEMO_APP, "healthcheck", "--url", f"http://127.0.0.1:{free_port()}/health"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert down.returncode == 1
    assert "Traceback" not in down.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--store", "redis"], {}, "invalid choice"),
        (["--workers", "2"], {}, "workers"),
        ([], {"DEMOAPP_PORT": "abc"}, "DEMOAPP_PORT"),
        ([], {"DEMOAPP_STORE": "nope"}, "store"),
        (["--port", "70000"], {}, "port"),
        (["--log-level", "loud"], {}, "log-level"),
        (["--data-dir", "/proc/demoapp-cannot-exist"], {}, "data-dir"),
        (["--token", ""], {}, "token"),
    ],
)
def test_bad_configuration_exits_nonzero_with_a_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = subprocess.run(
        [DEMO_APP, "serve", "--port", "1", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port_is_refused(service: StartService) -> None:
    server = service("--store", "memory")
    result = subprocess.run(
        [DEMO_APP, "serve", "--store", "memory", "--port", str(server.port)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "Address already in use" in result.stderr


def test_binds_loopback_by_default(service: StartService) -> None:
    server = service("--store", "memory")
    assert "serving http://127.0.0.1:" in server.log.read_text()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/system").json()["environment"]["DEMOAPP_HOST"] == "127.0.0.1"
