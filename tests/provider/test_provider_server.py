"""The gRPC server: parallelism above tf's hard-coded 10 workers, which calls run on the event loop, the
handshake, errors as diagnostics."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from barrier_provider import ADDRESS as BARRIER_ADDRESS
from tf.gen import tfplugin_pb2 as pb

from provider import ADDRESS, VERSION, install_launcher, write_cli_config
from provider._server import DEFAULT_WORKERS, WORKERS_ENV, _asynchronous, _diagnosing, worker_count
from provider._zygote import ENABLED_ENV as ZYGOTE_ENABLED_ENV
from provider.acceptance import Terraform, install_mirror

BARRIER_CONFIG = """
terraform {
  required_providers {
    barrier = { source = "demoapp/barrier", version = "0.0.1" }
  }
}

provider "barrier" {
  parties = 20
}

resource "barrier_wait" "all" {
  count = 20
}
"""


@pytest.fixture
def barrier_terraform(tmp_path: Path) -> Terraform:
    work = tmp_path / "work"
    install_launcher(work / "mirror", BARRIER_ADDRESS, "0.0.1", "tests.provider.barrier_provider")
    env = install_mirror(work)
    write_cli_config(work, [ADDRESS, BARRIER_ADDRESS])
    terraform = Terraform(tmp_path / "config", env)
    terraform.write(BARRIER_CONFIG)
    terraform.init()
    return terraform


@pytest.mark.terraform
def test_parallelism_above_ten_really_runs_in_parallel(barrier_terraform: Terraform) -> None:
    result = barrier_terraform.apply("-parallelism=30")
    assert "Resources: 20 added" in result.stdout


@pytest.mark.terraform
def test_ten_workers_cannot_pass_a_barrier_of_twenty(barrier_terraform: Terraform) -> None:
    """The control: with tf's old limit the same apply fails, so the test above can fail."""
    limited = Terraform(barrier_terraform.workdir, {**barrier_terraform.env, WORKERS_ENV: "10"})
    result = limited.apply("-parallelism=30", check=False)
    assert result.returncode == 1 and "Barrier broken" in result.stderr


def test_worker_count_setting() -> None:
    assert worker_count({}) == DEFAULT_WORKERS >= 64
    assert worker_count({WORKERS_ENV: "128"}) == 128
    for bad in ("0", "many", "100000"):
        with pytest.raises(ValueError, match=WORKERS_ENV):
            worker_count({WORKERS_ENV: bad})


def test_escaping_exception_becomes_error_diagnostic() -> None:
    def broken(request: object, context: object) -> object:
        raise OSError("disk on fire")

    response = _diagnosing("ReadResource", broken)(pb.ReadResource.Request(), None)
    assert isinstance(response, pb.ReadResource.Response)
    [diagnostic] = response.diagnostics
    assert diagnostic.severity == pb.Diagnostic.ERROR and "OSError: disk on fire" in diagnostic.detail


def test_launcher_prints_go_plugin_handshake(tmp_path: Path) -> None:
    launcher = install_launcher(tmp_path / "mirror", ADDRESS, VERSION, "provider")
    process = subprocess.Popen([str(launcher)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
    finally:
        process.kill()
        process.wait()
    core, protocol, network, address, transport, cert = line.split("|")
    assert (core, protocol, network, transport) == ("1", "6", "unix", "grpc")
    assert address.endswith(".sock")
    assert base64.b64decode(cert + "=" * (-len(cert) % 4))[:1] == b"\x30", "a DER certificate"


def test_deferred_servicer_builds_the_provider_once_and_reports_a_failed_build() -> None:
    from provider._provider import DemoappProvider
    from provider._server import _DeferredServicer

    built: list[DemoappProvider] = []

    def make() -> DemoappProvider:
        built.append(DemoappProvider(environ={}))
        return built[-1]

    handlers = _DeferredServicer(make).handlers()
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda _: handlers.GetProviderSchema(pb.GetProviderSchema.Request(), None), range(8))
        )
    assert len(built) == 1
    assert all("demoapp_item" in response.resource_schemas for response in responses)

    def broken() -> DemoappProvider:
        raise ImportError("no such module")

    response = _DeferredServicer(broken).handlers().GetProviderSchema(pb.GetProviderSchema.Request(), None)
    assert "ImportError: no such module" in response.diagnostics[0].detail


def test_calls_that_only_compute_run_on_the_loop_and_the_others_in_a_worker() -> None:
    threads: dict[str, str] = {}

    def recording(name: str) -> Callable[[object, object], str]:
        def handler(request: object, context: object) -> str:
            threads[name] = threading.current_thread().name
            return name

        return handler

    names = ["PlanResourceChange", "ValidateResourceConfig", "ApplyResourceChange", "ReadResource"]
    handlers = SimpleNamespace(**{name: recording(name) for name in names})

    async def call_all() -> list[str]:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="worker") as pool:
            served = _asynchronous(handlers, lambda: pool)
            return [await getattr(served, name)(None, None) for name in names]

    assert asyncio.run(call_all()) == names
    loop_thread = threading.current_thread().name
    assert threads["PlanResourceChange"] == threads["ValidateResourceConfig"] == loop_thread
    assert threads["ApplyResourceChange"].startswith("worker") and threads["ReadResource"].startswith(
        "worker"
    )


def test_an_exception_in_a_worker_call_becomes_an_error_diagnostic() -> None:
    def broken(request: object, context: object) -> object:
        raise ConnectionResetError("peer went away")

    handlers = SimpleNamespace(ApplyResourceChange=_diagnosing("ApplyResourceChange", broken))

    async def call() -> pb.ApplyResourceChange.Response:
        with ThreadPoolExecutor(max_workers=1) as pool:
            response: pb.ApplyResourceChange.Response = await _asynchronous(
                handlers, lambda: pool
            ).ApplyResourceChange(pb.ApplyResourceChange.Request(), None)
            return response

    [diagnostic] = asyncio.run(call()).diagnostics
    assert "ConnectionResetError: peer went away" in diagnostic.detail


@pytest.mark.parametrize(
    ("preset", "expected"),
    [(None, "-event_engine_listener"), ("-event_engine_client", "-event_engine_client")],
)
def test_grpc_is_imported_without_the_event_engine_listener_unless_told_otherwise(
    preset: str | None, expected: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "GRPC_EXPERIMENTS"}
    if preset is not None:
        env["GRPC_EXPERIMENTS"] = preset
    script = "import os, provider._server as s; s._import_grpc(); print(os.environ['GRPC_EXPERIMENTS'])"
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == expected


ORPHANING_PARENT = """
import subprocess, sys
provider = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
provider.stdout.readline()  # the handshake: the provider is serving
print(provider.pid, flush=True)
"""  # ...and exits without stopping it, as a Terraform killed by SIGKILL does


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_provider_whose_terraform_died_exits(tmp_path: Path) -> None:
    launcher = install_launcher(tmp_path / "mirror", ADDRESS, VERSION, "provider")
    cold = {**os.environ, ZYGOTE_ENABLED_ENV: "0"}  # started by its parent itself, not forked by a zygote
    parent = subprocess.run(
        [sys.executable, "-c", ORPHANING_PARENT, str(launcher)],
        env=cold,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid = int(parent.stdout)
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pid), "the orphaned provider is still serving"
