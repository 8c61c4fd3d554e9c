"""The acceptance of the baseline demo, in the order a presenter runs it: demo, crash, recover, down."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest
from demo_run import REPO_ROOT, DemoRun
from playwright.sync_api import Browser

from examples.harness import Event, TerraformError

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.terraform, pytest.mark.slow]

ITEMS = 3
SCREENSHOT = REPO_ROOT / "docs" / "demo-page.png"


@pytest.fixture(scope="module")
def demo(demo_factory: Callable[[], DemoRun]) -> DemoRun:
    run = demo_factory()
    result = run.make("demo")
    assert "OFFLINE STAND-INS" in result.stdout, "the stand-ins must be announced plainly"
    assert "warning: Offline stand-in for registry.terraform.io/kreuzwerker/docker 3.6.2" in result.stdout
    return run


def _assert_converged(demo: DemoRun, docker_client: docker.DockerClient, display: str) -> None:
    """The live service holds exactly what state holds, once, and one container runs."""
    assert demo.state_display() == display
    assert demo.live_display() == display.encode(), "display not restored byte for byte"
    items = demo.state_items()
    assert len(items) == ITEMS
    live = demo.live_items()
    assert {str(item["id"]): item["name"] for item in live} == items, "missing or duplicate items"
    assert len({item["name"] for item in live}) == ITEMS
    containers = docker_client.containers.list(all=True, filters={"name": demo.container})
    containers = [container for container in containers if container.name == demo.container]
    assert len(containers) == 1, "orphan containers"
    (container,) = containers
    assert container.status == "running"
    (state_container,) = demo.state_instances("docker_container")
    assert state_container["id"] == container.id
    assert not demo.terraform().plan().has_changes, "plan is not clean"


def test_make_demo_brings_up_the_page_with_display_and_items(
    demo: DemoRun, docker_client: docker.DockerClient
) -> None:
    page = httpx.get(demo.url, timeout=10)
    assert page.status_code == 200
    display = json.loads(demo.live_display())
    assert display["fetched_from"] == f"{demo.url}/api/system"
    assert display["captured_at"].endswith("Z")
    system_info = display["system_info"]
    assert system_info["hostname"] and "store" in system_info
    outputs = demo.terraform().output()
    assert outputs["app_url"] == demo.url
    assert [item["name"] for item in outputs["items"]] == [f"Demo item {n}" for n in range(1, ITEMS + 1)]
    assert outputs["system_info"]["hostname"] == system_info["hostname"]
    (container,) = demo.state_instances("docker_container")
    assert outputs["container_id"] == container["id"]
    # Published on loopback only.
    ports = docker_client.containers.get(demo.container).attrs["NetworkSettings"]["Ports"]
    assert {binding["HostIp"] for bindings in ports.values() if bindings for binding in bindings} == {
        "127.0.0.1"
    }
    _assert_converged(demo, docker_client, demo.state_display())


def test_page_in_headless_chromium_shows_display_and_items(demo: DemoRun, chromium: Browser) -> None:
    from playwright.sync_api import expect

    captured_at = json.loads(demo.state_display())["captured_at"]
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url, wait_until="networkidle")
    body = page.locator("body")
    expect(body).to_contain_text(captured_at)
    for name in demo.state_items().values():
        expect(body).to_contain_text(name)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_crash_then_recover_restores_the_same_display_and_items(
    demo: DemoRun, docker_client: docker.DockerClient
) -> None:
    display = demo.state_display()
    items_before = demo.state_items()
    demo.make("crash")
    with pytest.raises(httpx.TransportError):
        httpx.get(demo.url, timeout=2)
    result = demo.make("recover")
    assert "Restored" in result.stdout
    _assert_converged(demo, docker_client, display)
    assert json.loads(demo.live_display())["captured_at"] == json.loads(display)["captured_at"]
    assert sorted(demo.state_items().values()) == sorted(items_before.values())


def test_restart_wipes_memory_then_recover_restores(
    demo: DemoRun, docker_client: docker.DockerClient
) -> None:
    display = demo.state_display()
    demo.make("crash", "RESTART=1")
    assert demo.live_display() != display.encode()
    assert demo.live_items() == []
    demo.make("recover")
    _assert_converged(demo, docker_client, display)


def test_container_killed_mid_apply_then_apply_again_converges(
    demo: DemoRun, docker_client: docker.DockerClient
) -> None:
    display = demo.state_display()
    terraform = demo.terraform()
    demo.make("crash")
    terraform.apply(targets=["docker_container.container"])  # a new, empty container
    killed: list[str] = []

    def kill_container_once_it_is_replaced(event: Event) -> None:
        # The sleep is re-created because the container id changed; the http read and the items follow it.
        if event.type == "apply_start" and event.address == "time_sleep.settle" and not killed:
            docker_client.containers.get(demo.container).kill()
            killed.append(event.address)

    with pytest.raises(TerraformError):
        terraform.apply(on_event=kill_container_once_it_is_replaced)
    assert killed, "the apply never reached the sleep"
    demo.make("recover")
    _assert_converged(demo, docker_client, display)


def test_status_reports_a_healthy_demo(demo: DemoRun) -> None:
    result = demo.make("status")
    assert "healthy" in result.stdout
    assert "drift" in result.stdout and "none" in result.stdout


def test_make_down_leaves_no_container_and_empty_state(
    demo: DemoRun, docker_client: docker.DockerClient
) -> None:
    demo.make("down")
    leftovers = docker_client.containers.list(all=True, filters={"name": demo.container})
    assert [container for container in leftovers if container.name == demo.container] == []
    assert demo.state()["resources"] == []
    assert demo.terraform().state_list() == []
    assert Path(demo.work / "baseline" / "terraform.tfstate").is_file()
