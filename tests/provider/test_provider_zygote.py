"""Warm provider starts (provider/_zygote.py): the launcher gets its provider forked from a zygote.

Each test installs the launcher into its own tmp folder, so it gets its own zygote (one per HOME and
module); zygotes are stopped at the end of each test.
"""

from __future__ import annotations

import base64
import functools
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from tf.gen import grpc_controller_pb2 as controller_pb
from tf.gen import grpc_controller_pb2_grpc as controller_rpc
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

from provider import ADDRESS, VERSION, install_launcher
from provider._zygote import (
    ENABLED_ENV,
    IDLE_ENV,
    TAKEN_REPLY,
    ZYGOTE_NAME,
    log_path,
    running_zygote,
    serving_forks,
    socket_path,
)

pytestmark = pytest.mark.timeout(120)

BARRIER_MODULE = "tests.provider.barrier_provider"


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.05)


def command_line(pid: int) -> list[str]:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")


def has_ended(pid: int) -> bool:
    return not is_running(pid)


def is_running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


class Start:
    """One start of the launcher, as Terraform does it: read the handshake line from its stdout."""

    def __init__(self, launcher: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [str(launcher)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        assert self.process.stdout is not None
        self.handshake = self.process.stdout.readline().strip()
        # Forked by a zygote, the launcher process stays the launcher; a cold one becomes the provider.
        self.warm = "-m" not in command_line(self.process.pid)

    def channel(self) -> grpc.Channel:
        _, _, _, address, _, cert = self.handshake.split("|")
        der = base64.b64decode(cert + "=" * (-len(cert) % 4))
        credentials = grpc.ssl_channel_credentials(root_certificates=ssl.DER_cert_to_PEM_cert(der).encode())
        return grpc.secure_channel(
            f"unix:{address}", credentials, options=[("grpc.ssl_target_name_override", "localhost")]
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=10)


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """The provider's launcher in a tmp mirror, its HOME, and an environment with a short idle time."""
    launcher = install_launcher(tmp_path / "mirror", ADDRESS, VERSION, "provider")
    home = tmp_path / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DEMOAPP_")}
    env[IDLE_ENV] = "60"
    yield launcher, home, env
    pid = running_zygote(home, "provider")
    if pid is not None:
        os.kill(pid, signal.SIGTERM)


def warm_up(launcher: Path, home: Path, env: dict[str, str], module: str = "provider") -> None:
    """A first (cold) start spawns the zygote; wait until it listens."""
    first = Start(launcher, env)
    first.stop()
    assert not first.warm, "nothing could serve the first start warm"
    wait_for(lambda: socket_path(home, module).exists())


@pytest.fixture
def warmed(installed: tuple[Path, Path, dict[str, str]]) -> tuple[Path, Path, dict[str, str]]:
    """`installed`, with its zygote listening."""
    warm_up(*installed)
    return installed


def test_a_warm_start_is_a_working_provider_forked_by_the_zygote(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, home, env = warmed
    start = Start(launcher, env)
    try:
        assert start.warm
        core, protocol, network, _, transport, _ = start.handshake.split("|")
        assert (core, protocol, network, transport) == ("1", "6", "unix", "grpc")
        with start.channel() as channel:
            schema = rpc.ProviderStub(channel).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=30)
        assert "demoapp_item" in schema.resource_schemas
    finally:
        start.stop()
    assert "serving on" in log_path(home, "provider").read_text()


def test_shutdown_ends_the_provider_and_its_launcher_with_code_0(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, _, env = warmed
    start = Start(launcher, env)
    assert start.warm
    with start.channel() as channel:
        controller_rpc.GRPCControllerStub(channel).Shutdown(controller_pb.Empty(), timeout=10)
    assert start.process.wait(timeout=10) == 0
    start.stop()


def test_the_providers_exit_code_reaches_terraform(warmed: tuple[Path, Path, dict[str, str]]) -> None:
    launcher, _, env = warmed
    start = Start(launcher, {**env, "DEMOAPP_PROVIDER_WORKERS": "many"})
    assert start.warm, "the launcher waits for its provider's exit"
    assert start.process.wait(timeout=10) == 2
    _, errors = start.process.communicate(timeout=10)
    assert "DEMOAPP_PROVIDER_WORKERS must be an integer" in errors, "stderr is the launcher's"


def test_a_killed_launcher_takes_its_forked_provider_with_it(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, home, env = warmed
    zygote, before = zygote_and_forks(home)
    start = Start(launcher, env)
    assert start.warm
    [provider] = set(serving_forks(zygote)) - before
    start.process.send_signal(signal.SIGKILL)  # as Terraform's Kill does
    start.stop()
    wait_for(lambda: not is_running(provider), timeout=10)


def zygote_and_forks(home: Path) -> tuple[int, set[int]]:
    """The zygote serving the provider installed with `home`, and the providers it runs now."""
    zygote = running_zygote(home, "provider")
    assert zygote is not None
    return zygote, set(serving_forks(zygote))


def test_changed_code_is_never_served_from_a_stale_zygote(tmp_path: Path) -> None:
    # The barrier provider's package is `tests`: touching one of its files changes that code's fingerprint.
    launcher = install_launcher(
        tmp_path / "mirror", "registry.terraform.io/demoapp/barrier", "0.0.1", BARRIER_MODULE
    )
    home = tmp_path / "home"
    env = {**os.environ, IDLE_ENV: "60"}
    warm_up(launcher, home, env, BARRIER_MODULE)
    stale = running_zygote(home, BARRIER_MODULE)
    touched = Path(__file__).with_name("barrier_provider.py")
    original = touched.stat()
    try:
        os.utime(touched, ns=(original.st_atime_ns, original.st_mtime_ns + 1_000_000_000))
        start = Start(launcher, env)
        start.stop()
        assert not start.warm, "a zygote that loaded other code must not serve"
        assert stale is not None
        wait_for(lambda: not is_running(stale))
        assert "stale" in log_path(home, BARRIER_MODULE).read_text()
    finally:
        os.utime(touched, ns=(original.st_atime_ns, original.st_mtime_ns))
        fresh = running_zygote(home, BARRIER_MODULE)
        if fresh is not None:
            os.kill(fresh, signal.SIGTERM)


def spares_of(zygote: int) -> set[int]:
    """The zygote's forks that wait for a launcher: they still carry the zygote's process name."""
    children = (Path("/proc") / str(zygote) / "task" / str(zygote) / "children").read_text().split()
    names = {int(child): (Path("/proc") / child / "comm").read_text().strip() for child in children}
    return {pid for pid, name in names.items() if name == ZYGOTE_NAME and is_running(pid)}


def test_the_provider_was_forked_before_its_launcher_started(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, home, env = warmed
    zygote = running_zygote(home, "provider")
    assert zygote is not None
    wait_for(lambda: len(spares_of(zygote)) == 1)
    [spare] = spares_of(zygote)
    start = Start(launcher, env)
    try:
        assert start.warm
        assert serving_forks(zygote) == [spare], "the spare, forked ahead, serves the launcher"
        wait_for(lambda: len(spares_of(zygote)) == 1)
        assert spares_of(zygote) != {spare}, "a new spare waits for the next launcher"
    finally:
        start.stop()


def test_the_zygote_stops_when_its_spares_keep_dying(warmed: tuple[Path, Path, dict[str, str]]) -> None:
    launcher, home, env = warmed
    zygote = running_zygote(home, "provider")
    assert zygote is not None
    for _ in range(3):
        wait_for(lambda: len(spares_of(zygote)) == 1)
        [spare] = spares_of(zygote)
        os.kill(spare, signal.SIGKILL)
        wait_for(functools.partial(has_ended, spare))
    wait_for(lambda: not is_running(zygote))
    assert "3 spares died before serving a launcher" in log_path(home, "provider").read_text()
    start = Start(launcher, env)
    start.stop()
    assert not start.warm, "with no zygote the launcher starts the provider itself"


def test_a_start_that_fails_before_the_hand_over_is_left_to_the_launcher(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, home, env = warmed
    # A request without stdio: the spare fails before taking over, so it never says it took the start,
    # and a launcher would then start the provider itself.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(socket_path(home, "provider")))
        client.sendall(b"\x00\x00\x00\x02no")
        client.settimeout(10)
        reply = b""
        while chunk := client.recv(64):
            reply += chunk
    assert not reply.startswith(TAKEN_REPLY), reply
    start = Start(launcher, env)
    start.stop()
    assert start.warm, "the zygote still serves the next start"


def test_an_idle_zygote_exits_and_removes_its_socket(installed: tuple[Path, Path, dict[str, str]]) -> None:
    launcher, home, env = installed
    warm_up(launcher, home, {**env, IDLE_ENV: "1"})
    zygote = running_zygote(home, "provider")
    assert zygote is not None
    wait_for(lambda: len(spares_of(zygote)) == 1)
    [spare] = spares_of(zygote)
    wait_for(lambda: running_zygote(home, "provider") is None, timeout=15)
    assert not socket_path(home, "provider").exists()
    assert "idle for 1 s" in log_path(home, "provider").read_text()
    wait_for(lambda: not is_running(spare))


def test_the_zygote_can_be_turned_off(installed: tuple[Path, Path, dict[str, str]]) -> None:
    launcher, home, env = installed
    off = {**env, ENABLED_ENV: "0"}
    for _ in range(2):
        start = Start(launcher, off)
        start.stop()
        assert not start.warm
    assert not socket_path(home, "provider").exists()
    assert running_zygote(home, "provider") is None


def test_terraform_killed_ends_the_launcher_and_its_provider(
    warmed: tuple[Path, Path, dict[str, str]],
) -> None:
    launcher, home, env = warmed
    zygote, before = zygote_and_forks(home)
    # A shell plays Terraform: it starts the launcher, says its pid, and is then killed without warning.
    terraform = subprocess.Popen(
        ["sh", "-c", f"'{launcher}' & echo launcher=$!; wait"], stdout=subprocess.PIPE, env=env, text=True
    )
    assert terraform.stdout is not None
    lines = [terraform.stdout.readline().strip() for _ in range(2)]
    [launcher_pid] = [int(line.removeprefix("launcher=")) for line in lines if line.startswith("launcher=")]
    assert any(line.startswith("1|6|unix|") for line in lines), lines
    [provider] = set(serving_forks(zygote)) - before
    terraform.kill()
    terraform.wait()
    wait_for(lambda: not is_running(launcher_pid), timeout=10)
    wait_for(lambda: not is_running(provider), timeout=10)
