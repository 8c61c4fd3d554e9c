"""Serve a `tf` provider over go-plugin's gRPC protocol, with the limits `tf.runner` hard-codes lifted.

Differences from `tf.runner.run_provider`, each for a measured reason:
- the server is grpc.aio's, on one event loop: the calls that only decode, check and encode (schema,
  validate, plan) run on the loop's thread, without a hand-off between threads; the calls that wait on
  the service (apply, read, import, data sources, configure) run in a thread pool whose size is a setting
  (`DEMOAPP_PROVIDER_WORKERS`, default 64): `tf` runs every call in a pool fixed at 10 threads, so
  `terraform apply -parallelism=50` would run 10 operations at a time. Measured against the sync server
  with 64 threads: about a third less CPU per plan-time call, less than half the context switches;
- grpc's EventEngine listener is turned off (`GRPC_EXPERIMENTS`): see `_import_grpc`;
- the TLS certificate comes from `provider._certificate` (atomic cache, no `cryptography` import);
- any exception a handler lets escape becomes an error diagnostic instead of gRPC's opaque "Plugin error";
- the handshake is printed before the resources are imported (they load while Terraform connects);
- the process exits as soon as go-plugin's `Shutdown` has been answered, instead of polling, and without
  the interpreter's finalization; and when Terraform dies without calling it (its parent changes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
import signal
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from provider._certificate import ensure_certificate

if TYPE_CHECKING:
    from tf.iface import Provider
    from tf.provider import ProviderServicer

WORKERS_ENV = "DEMOAPP_PROVIDER_WORKERS"
# Set when a zygote forked this provider (provider._zygote): the descriptor of the launcher's connection,
# which closes when Terraform kills the launcher.
LAUNCHER_FD_ENV = "DEMOAPP_PROVIDER_LAUNCHER_FD"
DEFAULT_WORKERS = 64
MAX_WORKERS = 1024
# go-plugin's handshake: core protocol 1, Terraform plugin protocol 6.
_CORE_PROTOCOL = 1
_PLUGIN_PROTOCOL = 6


def worker_count(environ: Mapping[str, str]) -> int:
    """gRPC worker threads: one per concurrent Terraform operation the provider can serve."""
    raw = environ.get(WORKERS_ENV, "")
    if not raw:
        return DEFAULT_WORKERS
    try:
        workers = int(raw)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV} must be an integer, got {raw!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"{WORKERS_ENV} must be between 1 and {MAX_WORKERS}, got {workers}")
    return workers


def _parent_changed(parent_pid: int) -> bool:
    return os.getppid() != parent_pid


def _peer_closed(connection: socket.socket) -> bool:
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _terraform_gone_check() -> Callable[[], bool]:
    """Started by Terraform, the provider is orphaned when its parent changes; forked by a zygote, when
    the launcher Terraform started closes its connection."""
    launcher_fd = os.environ.get(LAUNCHER_FD_ENV)
    if launcher_fd:
        return functools.partial(_peer_closed, socket.socket(fileno=int(launcher_fd)))
    return functools.partial(_parent_changed, os.getppid())


def _import_grpc() -> ModuleType:
    """grpc, imported with its EventEngine listener off (unless `GRPC_EXPERIMENTS` is set already).

    That listener serves each accepted connection from EventEngine's own I/O threads, which then wake the
    thread running the calls for every message. Without it the connection is read by the poller that the
    server's completion queue runs anyway: measured here, half the context switches and about 20% less
    CPU per call. grpc reads the setting once, so it is set before the first import.
    """
    os.environ.setdefault("GRPC_EXPERIMENTS", "-event_engine_listener")
    import grpc
    import grpc.aio

    return grpc


def preload() -> None:
    """Import what `serve` imports lazily: a zygote (provider._zygote) does it once for all its forks."""
    _import_grpc()
    from tf import provider  # noqa: F401
    from tf.gen import grpc_controller_pb2_grpc, grpc_stdio_pb2_grpc, tfplugin_pb2_grpc  # noqa: F401


def _diagnosing(method_name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a tfplugin6 handler so an escaping exception answers with an error diagnostic."""
    from tf.gen import tfplugin_pb2 as pb

    response_type = getattr(getattr(pb, method_name, None), "Response", None)

    @functools.wraps(handler)
    def wrapper(request: Any, context: Any) -> Any:
        try:
            return handler(request, context)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            if response_type is None or "diagnostics" not in response_type.DESCRIPTOR.fields_by_name:
                raise
            diagnostic = pb.Diagnostic(
                severity=pb.Diagnostic.ERROR,
                summary=f"Internal error in the provider during {method_name}",
                detail=f"{type(exc).__name__}: {exc}. This is a bug in the provider; please report it.",
            )
            return response_type(diagnostics=[diagnostic])

    return wrapper


class _DeferredServicer:
    """tf's ProviderServicer, built on first use (thread-safe).

    Building it imports `tf.provider`, the schemas and the resources: tens of milliseconds that would
    otherwise delay the handshake. `serve` builds it right after printing the handshake, so the imports
    overlap Terraform's connection set-up instead of adding to it.
    """

    def __init__(
        self, make_provider: Callable[[], Provider], servicer_class: type[ProviderServicer] | None = None
    ):
        self._make_provider = make_provider
        self._servicer_class = servicer_class
        self._lock = threading.Lock()
        self._servicer: Any = None

    def get(self) -> Any:
        # Every gRPC call comes here; once built, the servicer is read without taking the lock.
        if self._servicer is not None:
            return self._servicer
        with self._lock:
            if self._servicer is None:
                from tf.provider import ProviderServicer

                servicer_class = self._servicer_class or ProviderServicer
                self._servicer = servicer_class(self._make_provider())
            return self._servicer

    def handlers(self) -> SimpleNamespace:
        """One handler per tfplugin6 method, each forwarding to the built servicer."""
        from tf.gen import tfplugin_pb2_grpc as rpc

        def forward(name: str) -> Callable[[Any, Any], Any]:
            return lambda request, context: getattr(self.get(), name)(request, context)

        names = [name for name, member in vars(rpc.ProviderServicer).items() if callable(member)]
        return SimpleNamespace(**{name: _diagnosing(name, forward(name)) for name in names if name[0] != "_"})


# The calls that only decode, check and encode, without network I/O: they run on the event loop's thread,
# so each costs no hand-off between threads. The other calls wait on the service: they run in the pool.
_ON_LOOP = frozenset(
    {
        "GetMetadata",
        "GetProviderSchema",
        "GetFunctions",
        "ValidateProviderConfig",
        "ValidateResourceConfig",
        "ValidateDataResourceConfig",
        "UpgradeResourceState",
        "PlanResourceChange",
        "MoveResourceState",
        "StopProvider",
    }
)


def _asynchronous(handlers: SimpleNamespace, workers: Callable[[], Executor]) -> SimpleNamespace:
    """The handlers as coroutines for grpc.aio: run on the loop (`_ON_LOOP`), or awaiting a worker thread.

    `workers` gives the pool when the first call comes: its size is read from the environment Terraform
    gave, which a spare fork (`set_handover`) learns only after its server started.
    """

    def adapt(name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Awaitable[Any]]:
        if name in _ON_LOOP:

            async def on_loop(request: Any, context: Any) -> Any:
                return handler(request, context)

            return on_loop

        async def in_worker(request: Any, context: Any) -> Any:
            return await asyncio.get_running_loop().run_in_executor(workers(), handler, request, context)

        return in_worker

    return SimpleNamespace(**{name: adapt(name, handler) for name, handler in vars(handlers).items()})


def set_handover(handover: Callable[[], None]) -> None:
    """Make `serve` call `handover` once its gRPC server listens, right before printing the handshake.

    A zygote's spare fork (provider._zygote) uses it to wait there for the launcher Terraform started and
    take over its stdio, environment and working directory: all the work before is done ahead of time.
    """
    global _handover
    _handover = handover


_handover: Callable[[], None] | None = None


def serve(
    provider: Provider | Callable[[], Provider],
    program: str,
    home: Path | None = None,
    servicer_class: type[ProviderServicer] | None = None,
) -> NoReturn:
    """Serve a provider until Terraform shuts it down, then exit the process.

    Prints go-plugin's handshake line on stdout.
    `provider` is the provider, or better a callable making it (e.g. its class): it is then called
    after the handshake, so importing the resources does not delay it.
    `program` names the provider in messages (e.g. a bad `DEMOAPP_PROVIDER_WORKERS`, exit code 2).
    `servicer_class` (a `tf.provider.ProviderServicer` subclass) lets a provider adjust what `tf` answers.
    """
    # Like go-plugin servers: Ctrl-C reaches the whole process group, but Terraform decides when the
    # provider stops (it first lets in-flight operations finish, then calls Shutdown).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    make_provider = provider if callable(provider) else lambda: provider
    deferred = _DeferredServicer(make_provider, servicer_class)
    # Not asyncio.run: closing the loop joins the worker threads, which exiting below makes unnecessary.
    loop = asyncio.new_event_loop()
    code = loop.run_until_complete(_serve(deferred, program, home or Path.home()))
    # Terraform waits for the plugin process to exit, 3-5 times per command: skip the interpreter's
    # finalization (joining the gRPC and worker threads took 30-60 ms of each exit here).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _serve(deferred: _DeferredServicer, program: str, home: Path) -> int:
    grpc = _import_grpc()
    from tf.gen import grpc_controller_pb2 as controller_pb
    from tf.gen import grpc_controller_pb2_grpc as controller_rpc
    from tf.gen import grpc_stdio_pb2_grpc as stdio_rpc
    from tf.gen import tfplugin_pb2_grpc as rpc

    shutdown_requested = asyncio.Event()

    class Controller(controller_rpc.GRPCControllerServicer):
        async def Shutdown(self, request: Any, context: Any) -> Any:
            shutdown_requested.set()
            return controller_pb.Empty()

    class Stdio(stdio_rpc.GRPCStdioServicer):
        # go-plugin asks for the plugin's stdio stream; we log to stderr, which Terraform captures anyway.
        async def StreamStdio(self, request: Any, context: Any) -> None:
            return

    certificate = ensure_certificate(home)
    # Sized from the environment Terraform gives, which a spare fork learns only at the hand-over.
    worker_pool: ThreadPoolExecutor | None = None

    def workers() -> Executor:
        assert worker_pool is not None, "calls come only after the handshake"
        return worker_pool

    server = grpc.aio.server()
    rpc.add_ProviderServicer_to_server(_asynchronous(deferred.handlers(), workers), server)
    controller_rpc.add_GRPCControllerServicer_to_server(Controller(), server)
    stdio_rpc.add_GRPCStdioServicer_to_server(Stdio(), server)

    with tempfile.TemporaryDirectory(prefix="tf-demoapp-") as socket_dir:
        socket_path = f"{socket_dir}/plugin.sock"
        credentials = grpc.ssl_server_credentials([(certificate.key_pem, certificate.cert_pem)])
        server.add_secure_port(f"unix://{socket_path}", credentials)
        await server.start()
        if _handover is not None:
            _handover()
        try:
            size = worker_count(os.environ)
        except ValueError as exc:
            print(f"{program}: {exc}", file=sys.stderr)
            return 2
        worker_pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="provider-worker")
        gone = _terraform_gone_check()
        server_cert = base64.b64encode(certificate.cert_der).decode().rstrip("=")
        handshake = f"{_CORE_PROTOCOL}|{_PLUGIN_PROTOCOL}|unix|{socket_path}|grpc|{server_cert}"
        print(handshake, flush=True)
        # The provider is built in a worker while the loop answers Terraform's connection set-up.
        with contextlib.suppress(Exception):  # a failure is reported as a diagnostic on the first call
            await asyncio.get_running_loop().run_in_executor(worker_pool, deferred.get)
        # Terraform killed (SIGKILL) never calls Shutdown: exit once orphaned instead of lingering forever.
        while not gone():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown_requested.wait(), timeout=0.5)
                break
        # A short grace lets the Shutdown answer reach go-plugin before the socket goes away.
        await server.stop(grace=0.2)
    return 0
