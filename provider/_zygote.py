"""Warm provider starts: a zygote process that has already imported grpc and `tf` forks each provider.

Terraform starts every provider 3-5 times per command, and each Python start spends about 100 ms
importing grpc and `tf` before it can print go-plugin's handshake. So the launcher in the filesystem
mirror (`launcher_script`) first asks a zygote for the provider: a process, one per provider module and
HOME, that has done those imports once and forks a provider per request. The fork takes over the
launcher's stdin, stdout and stderr, environment, working directory and arguments, so Terraform talks to
it exactly as to a provider it started itself; the launcher waits and exits with the fork's exit code.

The fork is made ahead of time: a *spare* runs the provider module up to the point where its gRPC server
listens (`provider._server.set_handover`) and then waits on the zygote's socket. The launcher that
connects is served by the spare, which takes over, prints the handshake, and tells the zygote, which forks
the next spare. So a start costs the launcher's own start and a hand-over, not a fork, the module's start
and a gRPC server's start (measured here: handshake about 13 ms instead of 22-24 ms, first answer about
19 instead of 30-37). A fork names itself `demoapp-plugin` when it takes a launcher (`serving_forks`).

When no zygote answers (the first start, or it was stopped) the launcher starts the provider the
ordinary way and spawns a zygote in the background for the next start. A zygote:
- refuses to serve code that changed since it imported it: at each request its spare compares the source
  files on disk (names, sizes, modification times) with those the zygote loaded; on a change it answers
  "stale" (the launcher then starts cold, with the new code) and the zygote exits. The launcher script
  itself holds no fingerprint, so it stays byte-for-byte the same and lock files keep matching it;
- exits after `DEMOAPP_PROVIDER_ZYGOTE_IDLE` seconds without a provider running (default 300), or when
  its HOME folder is removed, or when spares keep dying before they serve; its spare goes with it;
- listens on a Unix socket in a folder only its user can enter, and serves only its own user.
`DEMOAPP_PROVIDER_ZYGOTE=0` turns it off: every start is then a cold one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import hashlib
import importlib
import importlib.util
import marshal
import os
import runpy
import select
import selectors
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, NoReturn

SETTINGS_PREFIX = "DEMOAPP_PROVIDER_ZYGOTE"
ENABLED_ENV = SETTINGS_PREFIX
IDLE_ENV = f"{SETTINGS_PREFIX}_IDLE"
DEFAULT_IDLE_SECONDS = 300.0
STALE_REPLY = b"stale"
# A fork's first word to the launcher when it takes over; the launcher starts cold on any other reply.
TAKEN_REPLY = b"+"
# /proc/<pid>/comm: a zygote, and the spares it forks, are named ZYGOTE_NAME; a fork names itself
# SERVING_NAME when it takes a launcher.
ZYGOTE_NAME = "demoapp-zygote"
SERVING_NAME = "demoapp-plugin"
_TAKEN_NOTICE = b"taken"
_STALE_NOTICE = b"stale"
# Spares that die in a row before serving (e.g. the provider module fails to start): the zygote stops,
# and launchers start their providers cold, where the failure reaches Terraform.
_MAX_SPARES_LOST = 3
_HEADER = struct.Struct(">I")
_MAX_REQUEST_BYTES = 1024 * 1024
# Packages whose code a provider runs: a change to any of their files makes a zygote stale.
_SERVING_PACKAGES = ("provider", "tf")


def socket_path(home: Path, module: str) -> Path:
    """The zygote socket for `module` started with HOME `home` (short: Unix socket paths max ~107 bytes)."""
    digest = hashlib.sha256(f"{home.resolve()}\0{module}".encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"demoapp-provider-{os.getuid()}" / f"{digest}.sock"


def log_path(home: Path, module: str) -> Path:
    return home / f"zygote-{module}.log"


def running_zygote(home: Path, module: str) -> int | None:
    """The pid of the zygote serving `home` and `module`, if one runs (it writes it into its lock file)."""
    try:
        pid = int(socket_path(home, module).with_suffix(".lock").read_text())
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"provider._zygote" in arguments else None


def forked_providers_cpu_seconds(zygote_pid: int) -> float:
    """CPU time of the providers a zygote forked and that have exited (they are its children, not
    Terraform's, so Terraform's resource usage misses them)."""
    fields = Path(f"/proc/{zygote_pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _package_files(package: str) -> list[Path]:
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ValueError(f"package {package!r} cannot be found")
    roots = [Path(location) for location in spec.submodule_search_locations or []]
    if not roots and spec.origin:
        return [Path(spec.origin)]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def code_fingerprint(module: str) -> str:
    """Names, sizes and modification times of every source file a provider from `module` runs."""
    packages = dict.fromkeys([module.partition(".")[0], *_SERVING_PACKAGES])
    digest = hashlib.sha256(sys.executable.encode())
    for package in packages:
        for path in _package_files(package):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def launcher_script(python: str, python_path: str, home: Path, module: str) -> str:
    """The mirror's launcher for `module`: a Python script that needs nothing beyond the standard library.

    `python -I -S` starts in about 11 ms. The script uses the C modules `_socket` and `_signal` directly:
    `socket` and `signal` import `enum`, `selectors` and more, which doubled the launcher's start.
    """
    settings = {
        "PYTHON": python,
        "MODULE": module,
        "HOME": str(home),
        "SOCKET": str(socket_path(home, module)),
        "LOG": str(log_path(home, module)),
        "PYTHONPATH": python_path,
    }
    assignments = "\n".join(f"{name} = {value!r}" for name, value in settings.items())
    return f"""#!{python} -IS
# Generated by provider.install: starts {module} for Terraform (see provider/_zygote.py).
import _signal
import _socket
import os
import sys

{assignments}

# Like go-plugin servers: Ctrl-C reaches Terraform's whole process group, Terraform decides when to stop.
_signal.signal(_signal.SIGINT, _signal.SIG_IGN)
os.environ["HOME"] = HOME
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
ZYGOTE = os.environ.get({ENABLED_ENV!r}, "1") != "0"


def spawn_zygote():
    # Forked twice so that the zygote is nobody's child and outlives this start.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            log = os.open(LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            args = ["--module", MODULE, "--socket", SOCKET, "--home", HOME]
            os.execv(PYTHON, [PYTHON, "-S", "-P", "-m", "provider._zygote", *args])
        os._exit(0)
    os.wait()


def start_cold():
    os.environ["PYTHONPATH"] = PYTHONPATH
    if ZYGOTE:
        spawn_zygote()
    os.execv(PYTHON, [PYTHON, "-S", "-P", "-m", MODULE, *sys.argv[1:]])


def start_warm():
    zygote = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        zygote.connect(SOCKET)
    except OSError:
        zygote.close()
        return None
    import marshal

    os.environ["PYTHONPATH"] = PYTHONPATH
    request = marshal.dumps((os.getcwd(), dict(os.environ), sys.argv))
    message = len(request).to_bytes(4, "big") + request
    # stdin, stdout and stderr go along as SCM_RIGHTS: an array of C ints.
    descriptors = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))
    sent = zygote.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, descriptors)])
    while sent < len(message):
        sent += zygote.send(message[sent:])
    # The provider watches this connection, and this process watches Terraform: when Terraform dies
    # without stopping its providers (SIGKILL), leaving closes the connection and so ends the provider.
    terraform = os.getppid()
    zygote.settimeout(0.5)
    reply = b""
    while True:
        try:
            chunk = zygote.recv(64)
        except TimeoutError:
            if os.getppid() != terraform:
                return 1
            continue
        except OSError:
            break
        if not chunk:
            break
        reply += chunk
    # A fork that took this start over says {TAKEN_REPLY!r} first, then the zygote sends its exit code.
    # Anything else (stale code, or a fork that failed before taking over) leaves the start to us.
    if not reply.startswith({TAKEN_REPLY!r}):
        return None
    code = reply[1:]
    return int(code) if code.lstrip(b"-").isdigit() else 1


status = start_warm() if ZYGOTE else None
if status is None:
    start_cold()
sys.exit(status)
"""


def preload(module: str) -> None:
    """Import what a provider from `module` imports at start, so that every fork starts with it loaded."""
    from provider import _server

    _server.preload()
    spec = importlib.util.find_spec(module)
    is_package = spec is not None and spec.submodule_search_locations is not None
    main_name = f"{module}.__main__" if is_package else module
    main_module = importlib.import_module(main_name)
    for name in getattr(main_module, "PRELOAD", ()):
        importlib.import_module(name)
    # Each fork runs it afresh as __main__ (runpy warns when it is in sys.modules already); what it
    # imported stays loaded.
    del sys.modules[main_name]


def _receive_request(connection: socket.socket) -> tuple[bytes, list[int]]:
    header, fds, _, _ = socket.recv_fds(connection, _HEADER.size, 3)
    while len(header) < _HEADER.size:
        more = connection.recv(_HEADER.size - len(header))
        if not more:
            raise ConnectionError("launcher closed the connection")
        header += more
    (size,) = _HEADER.unpack(header)
    if size > _MAX_REQUEST_BYTES:
        raise ConnectionError(f"request of {size} bytes")
    request = b""
    while len(request) < size:
        more = connection.recv(size - len(request))
        if not more:
            raise ConnectionError("launcher closed the connection")
        request += more
    return request, fds


def _same_user(connection: socket.socket) -> bool:
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


def _set_process_name(name: str) -> None:
    """Name this process in /proc/<pid>/comm (and so in ps and top): spares and serving forks differ."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name)


def serving_forks(zygote_pid: int) -> list[int]:
    """The providers a zygote forked that serve a launcher now (its spare, still waiting, is not one)."""
    forks = []
    children = Path("/proc") / str(zygote_pid) / "task" / str(zygote_pid) / "children"
    for child in children.read_text().split():
        with contextlib.suppress(OSError):
            if (Path("/proc") / child / "comm").read_text().strip() == SERVING_NAME:
                forks.append(int(child))
    return forks


class _Spare:
    """In a spare fork: what `provider._server.serve` calls once its gRPC server listens.

    It waits for a launcher, takes over the launcher's stdin, stdout, stderr, environment, working
    directory and arguments, and returns: `serve` then prints the handshake. Everything before (the fork,
    running the module, starting the gRPC server) was done before Terraform asked for a provider.
    """

    def __init__(self, module: str, fingerprint: str, listener: socket.socket, notify: socket.socket):
        self.module = module
        self.fingerprint = fingerprint
        self.listener = listener
        self.notify = notify

    def __call__(self) -> None:
        connection = self._accept()
        connection.settimeout(5)
        if not _same_user(connection):
            raise SystemExit(1)
        request, fds = _receive_request(connection)
        cwd, environ, argv = marshal.loads(request)
        if len(fds) != 3:
            raise ConnectionError(f"expected stdin, stdout and stderr, got {len(fds)} descriptors")
        if code_fingerprint(self.module) != self.fingerprint:
            # Told first, so that the zygote stops forking spares of this code before the launcher retries.
            self.notify.send(_STALE_NOTICE)
            connection.sendall(STALE_REPLY)
            raise SystemExit(0)  # not os._exit: `serve` removes its socket folder on the way out
        # The zygote keeps a copy of the connection: it reports this fork's exit code to the launcher.
        socket.send_fds(self.notify, [_TAKEN_NOTICE], [connection.fileno()])
        connection.sendall(TAKEN_REPLY)
        self.listener.close()
        self.notify.close()
        connection.settimeout(None)
        _set_process_name(SERVING_NAME)
        sys.stdout.flush()
        sys.stderr.flush()
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        from provider._server import LAUNCHER_FD_ENV

        os.environ[LAUNCHER_FD_ENV] = str(connection.detach())
        sys.argv[:] = argv

    def _accept(self) -> socket.socket:
        self.listener.setblocking(False)
        while True:
            readable, _, _ = select.select([self.listener, self.notify], [], [])
            if self.notify in readable:
                raise SystemExit(0)  # the zygote exited or stopped this spare: never serve without it
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                continue
            connection.setblocking(True)
            return connection


def _run_spare(spare: _Spare) -> NoReturn:
    """In the fork: run the provider module; its `serve` waits for a launcher through `spare`."""
    from provider import _server

    code = 1
    try:
        _server.set_handover(spare)
        runpy.run_module(spare.module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else int(exit_request.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class Zygote:
    def __init__(self, module: str, socket_file: Path, home: Path, idle_seconds: float):
        self.module = module
        self.socket_file = socket_file
        self.fingerprint = ""
        self.home = home
        self.idle_seconds = idle_seconds
        # Forks serving a launcher, with the launcher's connection (for the exit code).
        self._children: dict[int, socket.socket] = {}
        # The fork waiting for the next launcher, and the zygote's end of its notice channel.
        self._spare: tuple[int, socket.socket] | None = None
        self._spares_lost = 0
        self._last_active = time.monotonic()
        self._selector = selectors.DefaultSelector()

    def _log(self, message: str) -> None:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S")
        print(f"{moment} zygote {os.getpid()} {self.module}: {message}", flush=True)

    def _private_directory(self) -> None:
        directory = self.socket_file.parent
        directory.mkdir(mode=0o700, exist_ok=True)
        info = directory.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise PermissionError(f"{directory} must belong to uid {os.getuid()} and be private (0700)")

    def run(self) -> int:
        self._private_directory()
        lock = open(self.socket_file.with_suffix(".lock"), "a")  # noqa: SIM115 (held for the whole life)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another zygote serves this socket
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        _set_process_name(ZYGOTE_NAME)
        self.fingerprint = code_fingerprint(self.module)
        preload(self.module)
        # Forks share the preloaded heap copy-on-write; keep the collector from touching (copying) it.
        gc.freeze()
        if threading.active_count() != 1:
            raise RuntimeError("importing the provider started threads; forking it would be unsafe")
        self.socket_file.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_file))
        listener.listen(64)
        bound = self.socket_file.stat().st_ino
        # SIGCHLD wakes the loop at once: a provider's exit code reaches its launcher without delay.
        wake_reader, wake_writer = socket.socketpair()
        wake_reader.setblocking(False)
        wake_writer.setblocking(False)
        signal.set_wakeup_fd(wake_writer.fileno())
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self._selector.register(wake_reader, selectors.EVENT_READ)
        self._log(f"serving on {self.socket_file}")
        zygote_only: list[IO[str] | socket.socket] = [wake_reader, wake_writer, lock]
        keep_serving = self._fork_spare(listener, zygote_only)
        while keep_serving:
            for _ in self._selector.select(timeout=2.0):
                with contextlib.suppress(BlockingIOError):
                    wake_reader.recv(4096)
            # Notices first: a fork may have taken a launcher and exited since the last turn.
            keep_serving = self._read_notices()
            self._reap_children()
            if keep_serving and self._spare is None:
                keep_serving = self._fork_spare(listener, zygote_only)
            keep_serving = keep_serving and not self._should_exit(bound)
        self._stop_spare()
        with contextlib.suppress(FileNotFoundError):
            if self.socket_file.stat().st_ino == bound:
                self.socket_file.unlink()
        listener.close()
        self._log("exiting")
        return 0

    def _fork_spare(self, listener: socket.socket, zygote_only: list[IO[str] | socket.socket]) -> bool:
        """Fork the spare that serves the next launcher; False when spares keep dying (then stop)."""
        if self._spares_lost >= _MAX_SPARES_LOST:
            self._log(f"{self._spares_lost} spares died before serving a launcher: see the lines above")
            return False
        notify, spare_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._selector.close()
            # Only the zygote reports exit codes: a launcher waits until every copy of its connection closes.
            for resource in [*zygote_only, *self._children.values()]:
                resource.close()
            notify.close()
            _run_spare(_Spare(self.module, self.fingerprint, listener, spare_end))
        spare_end.close()
        notify.setblocking(False)
        self._selector.register(notify, selectors.EVENT_READ)
        self._spare = (pid, notify)
        return True

    def _read_notices(self) -> bool:
        """Take the spare's notices: it took a launcher, or found the code changed (False: stop)."""
        if self._spare is None:
            return True
        pid, notify = self._spare
        try:
            notice, fds, _, _ = socket.recv_fds(notify, 16, 1)
        except BlockingIOError:
            return True
        if not notice:
            return True  # the spare died: `_reap_children` counts it
        if notice == _TAKEN_NOTICE and len(fds) == 1:
            self._children[pid] = socket.socket(fileno=fds[0])
            self._spares_lost = 0
        elif notice == _STALE_NOTICE:
            self._log("stale: the code on disk changed since it was loaded here")
            self._forget_spare()
            return False
        else:
            for fd in fds:
                os.close(fd)
            self._log(f"unexpected notice from spare {pid}: {notice!r}")
        self._forget_spare()
        self._last_active = time.monotonic()
        return True

    def _forget_spare(self) -> None:
        if self._spare is not None:
            self._selector.unregister(self._spare[1])
            self._spare[1].close()
            self._spare = None

    def _stop_spare(self) -> None:
        """Closing its notice channel stops the spare (it cleans up after itself); SIGKILL if it hangs."""
        if self._spare is None:
            return
        pid = self._spare[0]
        self._forget_spare()
        deadline = time.monotonic() + 5
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)

    def _should_exit(self, bound_inode: int) -> bool:
        if self._children:
            return False
        if time.monotonic() - self._last_active > self.idle_seconds:
            self._log(f"idle for {self.idle_seconds:g} s")
            return True
        if not self.home.is_dir():
            self._log(f"{self.home} was removed")
            return True
        try:
            return self.socket_file.stat().st_ino != bound_inode
        except FileNotFoundError:
            return True

    def _reap_children(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self._spare is not None and pid == self._spare[0]:
                self._log(f"spare {pid} exited ({os.waitstatus_to_exitcode(status)}) before serving")
                self._forget_spare()
                self._spares_lost += 1
                continue
            connection = self._children.pop(pid, None)
            if connection is not None:
                with contextlib.suppress(OSError):
                    connection.sendall(str(os.waitstatus_to_exitcode(status)).encode())
                connection.close()
            self._last_active = time.monotonic()


def idle_seconds(environ: dict[str, str] | os._Environ[str]) -> float:
    raw = environ.get(IDLE_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_IDLE_SECONDS
    except ValueError:
        return DEFAULT_IDLE_SECONDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider._zygote", description=__doc__.splitlines()[0])
    parser.add_argument("--module", required=True)
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args(argv)
    os.chdir("/")
    zygote = Zygote(args.module, args.socket, args.home, idle_seconds(os.environ))
    return zygote.run()


if __name__ == "__main__":
    sys.exit(main())
