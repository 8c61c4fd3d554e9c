"""`docker_container`: a container on the engine, created, updated, replaced and removed for real.

As kreuzwerker/docker's resource_docker_container: `wait = true` waits until the healthcheck reports
healthy; a refresh that finds the container gone drops it from state, and one that finds it stopped while
`must_run` is true removes it and drops it from state, so the next plan creates it again. Defaults
(`restart` "no", `must_run` true, `wait` false, `wait_timeout` 60, `rm` false, `ports.ip` "0.0.0.0",
`ports.protocol` "tcp") apply when the attribute is unset; unset attributes stay null in state.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tf.iface import (
    Config,
    CreateContext,
    DeleteContext,
    ImportContext,
    ReadContext,
    Resource,
    State,
    UpdateContext,
)
from tf.schema import Attribute, Block, Schema
from tf.types import Bool, List, Map, Number, Set, String, Unknown
from tf.utils import Diagnostics

from examples.standins._blocks import ListNestedBlock
from examples.standins._duration import parse_duration
from examples.standins.docker._provider import report_engine_error
from provider._types import Object

if TYPE_CHECKING:
    import docker
    import docker.models.containers

    from examples.standins.docker._provider import DockerProvider

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
PROTOCOLS = ("tcp", "udp", "sctp")
DEFAULT_IP = "0.0.0.0"
DEFAULT_PROTOCOL = "tcp"
DEFAULT_WAIT_TIMEOUT = 60
_HEALTH_POLL_SECONDS = 0.25
_NANOSECONDS = 1_000_000_000

NETWORK_DATA_TYPE = Object(
    {
        "gateway": String(),
        "global_ipv6_address": String(),
        "global_ipv6_prefix_length": Number(),
        "ip_address": String(),
        "ip_prefix_length": Number(),
        "ipv6_gateway": String(),
        "mac_address": String(),
        "network_name": String(),
    }
)

SCHEMA = Schema(
    version=2,
    description="A Docker container (offline stand-in of kreuzwerker/docker's docker_container).",
    attributes=[
        Attribute(
            "name",
            String(),
            description="The container's name; changing it replaces the container.",
            required=True,
            requires_replace=True,
        ),
        Attribute(
            "image",
            String(),
            description="The image to run: an id (`docker_image.x.image_id`) or a local name. Changing it "
            "replaces the container.",
            required=True,
            requires_replace=True,
        ),
        Attribute(
            "env",
            Set(String()),
            description="Environment variables, `NAME=value`. Changing them replaces the container.",
            optional=True,
            computed=True,
            requires_replace=True,
        ),
        Attribute(
            "restart",
            String(),
            description=f"The restart policy: one of {', '.join(RESTART_POLICIES)}. Default `no`. "
            "Changes apply in place.",
            optional=True,
        ),
        Attribute(
            "must_run",
            Bool(),
            description="When true (the default), a refresh that finds the container not running removes "
            "it, so the next apply creates it again.",
            optional=True,
        ),
        Attribute(
            "wait",
            Bool(),
            description="When true, create waits until the healthcheck reports healthy. Default false.",
            optional=True,
        ),
        Attribute(
            "wait_timeout",
            Number(),
            description=f"Seconds `wait` waits for healthy before failing. Default {DEFAULT_WAIT_TIMEOUT}.",
            optional=True,
        ),
        Attribute(
            "rm",
            Bool(),
            description="When true, the engine removes the container when it exits. Default false.",
            optional=True,
            requires_replace=True,
        ),
        Attribute(
            "read_only",
            Bool(),
            description="When true, the container's root filesystem is mounted read-only. Default false. "
            "Changing it replaces the container.",
            optional=True,
            requires_replace=True,
        ),
        Attribute(
            "tmpfs",
            Map(String()),
            description="tmpfs mounts: container path -> mount options (e.g. `rw,size=64m`). Changing them "
            "replaces the container.",
            optional=True,
            requires_replace=True,
        ),
        Attribute(
            "id",
            String(),
            description="The container's id (set by the engine).",
            optional=True,
            computed=True,
        ),
        Attribute(
            "exit_code",
            Number(),
            description="The container's exit code as last seen (0 while it runs).",
            computed=True,
        ),
        Attribute(
            "network_data",
            List(NETWORK_DATA_TYPE),
            description="The networks the container is attached to, with its addresses on them.",
            computed=True,
        ),
    ],
    block_types=[
        ListNestedBlock(
            "ports",
            Block(
                description="A port published on the host. Changing the ports replaces the container.",
                attributes=[
                    Attribute(
                        "internal", Number(), description="The port inside the container.", required=True
                    ),
                    Attribute(
                        "external",
                        Number(),
                        description="The port on the host; unset, the engine picks a free one.",
                        optional=True,
                        computed=True,
                    ),
                    Attribute(
                        "ip",
                        String(),
                        description=f"The host address to publish on. Default `{DEFAULT_IP}`; demos use "
                        "`127.0.0.1`.",
                        optional=True,
                    ),
                    Attribute(
                        "protocol",
                        String(),
                        description=f"One of {', '.join(PROTOCOLS)}. Default `{DEFAULT_PROTOCOL}`.",
                        optional=True,
                    ),
                ],
            ),
            requires_replace=True,
        ),
        ListNestedBlock(
            "healthcheck",
            Block(
                description="The container's healthcheck (replaces the image's). Changing it replaces the "
                "container.",
                attributes=[
                    Attribute(
                        "test",
                        List(String()),
                        description='The check, e.g. `["CMD", "demo-app", "healthcheck"]`.',
                        required=True,
                    ),
                    Attribute(
                        "interval",
                        String(),
                        description="Time between checks, e.g. `2s`. Default `0s` (the engine's 30s).",
                        optional=True,
                    ),
                    Attribute(
                        "timeout",
                        String(),
                        description="Longest time one check may run. Default `0s` (the engine's 30s).",
                        optional=True,
                    ),
                    Attribute(
                        "start_period",
                        String(),
                        description="Start-up time during which failures do not count. Default `0s`.",
                        optional=True,
                    ),
                    Attribute(
                        "retries",
                        Number(),
                        description="Consecutive failures that make the container unhealthy. Default 0 "
                        "(the engine's 3).",
                        optional=True,
                    ),
                ],
            ),
            max_items=1,
            requires_replace=True,
        ),
    ],
)


@dataclass
class PortModel:
    internal: int
    external: int | None = None
    ip: str | None = None
    protocol: str | None = None

    @property
    def key(self) -> str:
        return f"{self.internal}/{self.protocol or DEFAULT_PROTOCOL}"

    @property
    def host_ip(self) -> str:
        return self.ip or DEFAULT_IP


@dataclass
class HealthcheckModel:
    test: list[str]
    interval: str | None = None
    timeout: str | None = None
    start_period: str | None = None
    retries: int | None = None

    def to_engine(self) -> dict[str, Any]:
        def nanoseconds(duration: str | None) -> int:
            return round(parse_duration(duration) * _NANOSECONDS) if duration else 0

        return {
            "test": self.test,
            "interval": nanoseconds(self.interval),
            "timeout": nanoseconds(self.timeout),
            "start_period": nanoseconds(self.start_period),
            "retries": int(self.retries or 0),
        }


@dataclass
class ContainerModel:
    name: str
    image: str
    env: list[str] | None = None
    restart: str | None = None
    must_run: bool | None = None
    wait: bool | None = None
    wait_timeout: int | float | None = None
    rm: bool | None = None
    read_only: bool | None = None
    tmpfs: dict[str, str] | None = None
    id: str | None = None
    exit_code: int | None = None
    network_data: list[dict[str, Any]] | None = None
    ports: list[PortModel] = field(default_factory=list)
    healthcheck: list[HealthcheckModel] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: State) -> ContainerModel:
        """The model of a state or plan; values a plan leaves unknown (computed ones) become None."""
        known = _known_values(state)
        return cls(
            name=known["name"],
            image=known["image"],
            env=known.get("env"),
            restart=known.get("restart"),
            must_run=known.get("must_run"),
            wait=known.get("wait"),
            wait_timeout=known.get("wait_timeout"),
            rm=known.get("rm"),
            read_only=known.get("read_only"),
            tmpfs=known.get("tmpfs"),
            id=known.get("id"),
            exit_code=known.get("exit_code"),
            network_data=known.get("network_data"),
            ports=[PortModel(**_known_values(port)) for port in known.get("ports") or []],
            healthcheck=[
                HealthcheckModel(**_known_values(check)) for check in known.get("healthcheck") or []
            ],
        )

    def to_state(self) -> State:
        return asdict(self)

    @property
    def effective_restart(self) -> str:
        return self.restart or "no"

    @property
    def effective_must_run(self) -> bool:
        return self.must_run is not False

    def create_arguments(self) -> dict[str, Any]:
        bindings: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for port in self.ports:
            binding = (port.host_ip,) if port.external is None else (port.host_ip, str(port.external))
            bindings[port.key].append(binding)
        arguments: dict[str, Any] = {
            "image": self.image,
            "name": self.name,
            "environment": list(self.env or []),
            "ports": dict(bindings),
            "restart_policy": {"Name": self.effective_restart},
            "auto_remove": bool(self.rm),
            "read_only": bool(self.read_only),
            "tmpfs": dict(self.tmpfs or {}),
            "detach": True,
        }
        if self.healthcheck:
            arguments["healthcheck"] = self.healthcheck[0].to_engine()
        return arguments

    def observe(self, container: docker.models.containers.Container) -> None:
        """Take what the engine decides (id, published ports, exit code, networks) from `container`."""
        attrs = container.attrs
        self.id = container.id
        self.exit_code = attrs["State"].get("ExitCode")
        engine_restart = (attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"
        if engine_restart != self.effective_restart:
            self.restart = engine_restart
        if self.env is None:
            self.env = []
        published = attrs["NetworkSettings"].get("Ports") or {}
        for port in self.ports:
            port.external = _published_port(published.get(port.key) or [], port) or port.external
        self.network_data = [
            {
                "gateway": network.get("Gateway", ""),
                "global_ipv6_address": network.get("GlobalIPv6Address", ""),
                "global_ipv6_prefix_length": network.get("GlobalIPv6PrefixLen", 0),
                "ip_address": network.get("IPAddress", ""),
                "ip_prefix_length": network.get("IPPrefixLen", 0),
                "ipv6_gateway": network.get("IPv6Gateway", ""),
                "mac_address": network.get("MacAddress", ""),
                "network_name": name,
            }
            for name, network in sorted((attrs["NetworkSettings"].get("Networks") or {}).items())
        ]


def _known_values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: None if value is Unknown else value for name, value in values.items()}


def _published_port(bindings: list[dict[str, str]], port: PortModel) -> int | None:
    for binding in bindings:
        if binding.get("HostIp") in (port.host_ip, "") and binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def _whole_number(value: Any, low: int, high: int) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value == int(value)
        and low <= value <= high
    )


def validate_container(diags: Diagnostics, config: Config) -> None:
    def known(value: Any) -> bool:
        return value is not None and value is not Unknown

    restart = config.get("restart")
    if known(restart) and restart not in RESTART_POLICIES:
        diags.add_error(
            "Invalid restart",
            f"restart must be one of {', '.join(RESTART_POLICIES)}; got {restart!r}.",
            path=["restart"],
        )
    wait_timeout = config.get("wait_timeout")
    if known(wait_timeout) and not _whole_number(wait_timeout, 0, 86400):
        diags.add_error(
            "Invalid wait_timeout",
            f"wait_timeout must be whole seconds from 0 to 86400; got {wait_timeout!r}.",
            path=["wait_timeout"],
        )
    ports = config.get("ports")
    for index, port in enumerate(ports if isinstance(ports, list) else []):
        if not isinstance(port, dict):
            continue
        for name in ("internal", "external"):
            value = port.get(name)
            if known(value) and not _whole_number(value, 1, 65535):
                diags.add_error(
                    f"Invalid ports.{name}",
                    f"A port number is from 1 to 65535; got {value!r}.",
                    path=["ports", (index,), name],
                )
        protocol = port.get("protocol")
        if known(protocol) and protocol not in PROTOCOLS:
            diags.add_error(
                "Invalid ports.protocol",
                f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}.",
                path=["ports", (index,), "protocol"],
            )
        ip = port.get("ip")
        if isinstance(ip, str):
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                diags.add_error(
                    "Invalid ports.ip",
                    f"ip must be an IP address; got {ip!r}.",
                    path=["ports", (index,), "ip"],
                )
    checks = config.get("healthcheck")
    for index, check in enumerate(checks if isinstance(checks, list) else []):
        if not isinstance(check, dict):
            continue
        for name in ("interval", "timeout", "start_period"):
            value = check.get(name)
            if not isinstance(value, str):
                continue
            try:
                parse_duration(value)
            except ValueError as exc:
                diags.add_error(
                    f"Invalid healthcheck.{name}", f"{exc}.", path=["healthcheck", (index,), name]
                )
        retries = check.get("retries")
        if known(retries) and not _whole_number(retries, 0, 1_000_000):
            diags.add_error(
                "Invalid healthcheck.retries",
                f"retries must be a whole number of at least 0; got {retries!r}.",
                path=["healthcheck", (index,), "retries"],
            )
        test = check.get("test")
        if isinstance(test, list) and not test:
            diags.add_error(
                "Invalid healthcheck.test",
                'test must not be empty, e.g. ["CMD", "demo-app", "healthcheck"].',
                path=["healthcheck", (index,), "test"],
            )


class ContainerResource(Resource):
    def __init__(self, provider: DockerProvider, clock: Callable[[], float] = time.monotonic):
        self._provider = provider
        self._clock = clock

    @classmethod
    def get_name(cls) -> str:
        return "container"

    @classmethod
    def get_schema(cls) -> Schema:
        return SCHEMA

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        validate_container(diags, config)

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        import docker.errors

        diags = ctx.diagnostics
        validate_container(diags, planned)
        client = self._provider.client(diags)
        if diags.has_errors() or client is None:
            return None
        model = ContainerModel.from_state(planned)
        try:
            container = client.containers.create(**model.create_arguments())
        except docker.errors.ImageNotFound as exc:
            diags.add_error(
                f"Image {model.image} is not on the Docker engine",
                f"{exc}. The offline stand-in never pulls: build or load the image first (`make image`).",
                path=["image"],
            )
            return None
        except docker.errors.APIError as exc:
            hint = ""
            if exc.status_code == 409:
                hint = (
                    f" A container named {model.name} already exists but is not in this state: remove it "
                    f"(`docker rm -f {model.name}`) or import it (`terraform import ... {model.name}`)."
                )
            diags.add_error(f"Cannot create container {model.name}", f"{exc}.{hint}", path=["name"])
            return None
        except OSError as exc:
            report_engine_error(diags, f"create container {model.name}", exc)
            return None
        try:
            container.start()
            container.reload()
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(diags, f"start container {model.name}", exc)
            _remove_quietly(container)
            return None
        model.observe(container)
        # From here on the container exists: return its state even on error, so Terraform records it
        # (tainted) instead of leaving an orphan behind.
        if model.wait:
            self._wait_healthy(diags, container, model)
        elif model.effective_must_run and container.attrs["State"]["Status"] == "exited":
            diags.add_error(
                f"Container {model.name} exited right after it started",
                f"Exit code {container.attrs['State'].get('ExitCode')}; must_run is true. Last log lines:\n"
                f"{_log_tail(container)}",
            )
        return model.to_state()

    def _wait_healthy(
        self, diags: Diagnostics, container: docker.models.containers.Container, model: ContainerModel
    ) -> None:
        import docker.errors

        timeout = DEFAULT_WAIT_TIMEOUT if model.wait_timeout is None else float(model.wait_timeout)
        deadline = self._clock() + timeout
        status = "starting"
        while True:
            try:
                container.reload()
            except (docker.errors.DockerException, OSError) as exc:
                report_engine_error(diags, f"inspect container {model.name}", exc)
                return
            state = container.attrs["State"]
            health = state.get("Health")
            if health is None:
                diags.add_error(
                    f"Container {model.name} has no healthcheck to wait for",
                    "wait = true waits for the healthcheck to report healthy: add a healthcheck block or "
                    "use an image with a HEALTHCHECK.",
                    path=["wait"],
                )
                return
            status = health.get("Status", "")
            if status == "healthy":
                model.observe(container)
                return
            # The engine reports unhealthy only after `retries` consecutive failures: waiting on is futile.
            if status == "unhealthy" or not state.get("Running") or self._clock() >= deadline:
                break
            time.sleep(_HEALTH_POLL_SECONDS)
        model.observe(container)
        diags.add_error(
            f"Container {model.name} did not become healthy",
            f"Health status {status!r}, running {container.attrs['State'].get('Running')}, after waiting up "
            f"to {timeout:g}s (wait_timeout). Last log lines:\n{_log_tail(container)}",
            path=["wait_timeout"],
        )

    def read(self, ctx: ReadContext, current: State) -> State | None:
        import docker.errors

        diags = ctx.diagnostics
        model = ContainerModel.from_state(current)
        client = self._provider.client(diags)
        if client is None or not model.id:
            return current
        try:
            container = client.containers.get(model.id)
        except docker.errors.NotFound:
            return None
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(diags, f"inspect container {model.name}", exc)
            return current
        if model.effective_must_run and not container.attrs["State"].get("Running"):
            exit_code = container.attrs["State"].get("ExitCode")
            _remove_quietly(container)
            diags.add_warning(
                f"Container {model.name} was not running; removed it",
                f"It had exited (exit code {exit_code}) and must_run is true, so the stand-in removed it and "
                "dropped it from state, as kreuzwerker/docker does: the next apply creates it again.",
            )
            return None
        model.observe(container)
        return model.to_state()

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        import docker.errors

        diags = ctx.diagnostics
        validate_container(diags, planned)
        client = self._provider.client(diags)
        if diags.has_errors() or client is None:
            return None
        model = ContainerModel.from_state(planned)
        before = ContainerModel.from_state(current)
        try:
            container = client.containers.get(before.id)
            if model.effective_restart != before.effective_restart:
                container.update(restart_policy={"Name": model.effective_restart})
            container.reload()
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(diags, f"update container {model.name}", exc, path=["restart"])
            return None
        model.observe(container)
        return model.to_state()

    def delete(self, ctx: DeleteContext, current: State) -> None:
        import docker.errors

        model = ContainerModel.from_state(current)
        client = self._provider.client(ctx.diagnostics)
        if client is None or not model.id:
            return
        try:
            client.containers.get(model.id).remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            # rm = true: the engine may already be removing the container.
            if exc.status_code != 409:
                report_engine_error(ctx.diagnostics, f"remove container {model.name}", exc)
        except OSError as exc:
            report_engine_error(ctx.diagnostics, f"remove container {model.name}", exc)

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        """Import by container id or name; what the engine knows of the configuration is read back."""
        import docker.errors

        client = self._provider.client(ctx.diagnostics)
        if client is None:
            return None
        try:
            container = client.containers.get(id)
        except docker.errors.NotFound:
            ctx.diagnostics.add_error("Cannot import docker_container", f"No container {id!r} on the engine.")
            return None
        except (docker.errors.DockerException, OSError) as exc:
            report_engine_error(ctx.diagnostics, f"inspect container {id}", exc)
            return None
        model = _model_from_engine(container)
        model.observe(container)
        return model.to_state()


def _model_from_engine(container: docker.models.containers.Container) -> ContainerModel:
    attrs = container.attrs
    host_config = attrs["HostConfig"]
    ports = [
        PortModel(
            internal=int(key.split("/")[0]),
            external=int(binding["HostPort"]) if binding.get("HostPort") else None,
            ip=binding.get("HostIp") or None,
            protocol=key.split("/")[1],
        )
        for key, bindings in sorted((host_config.get("PortBindings") or {}).items())
        for binding in bindings or []
    ]
    check = attrs["Config"].get("Healthcheck")
    healthcheck = []
    if check and check.get("Test"):
        healthcheck.append(
            HealthcheckModel(
                test=check["Test"],
                interval=_duration_text(check.get("Interval")),
                timeout=_duration_text(check.get("Timeout")),
                start_period=_duration_text(check.get("StartPeriod")),
                retries=check.get("Retries"),
            )
        )
    return ContainerModel(
        name=attrs["Name"].lstrip("/"),
        image=attrs["Image"],
        env=attrs["Config"].get("Env") or [],
        restart=(host_config.get("RestartPolicy") or {}).get("Name") or None,
        rm=host_config.get("AutoRemove"),
        read_only=host_config.get("ReadonlyRootfs") or None,
        tmpfs=host_config.get("Tmpfs") or None,
        ports=ports,
        healthcheck=healthcheck,
    )


def _duration_text(nanoseconds: int | None) -> str | None:
    if not nanoseconds:
        return None
    milliseconds = nanoseconds // 1_000_000
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def _log_tail(container: docker.models.containers.Container, lines: int = 20) -> str:
    import docker.errors

    try:
        raw: bytes = container.logs(tail=lines)
    except (docker.errors.DockerException, OSError):
        return "(logs unavailable)"
    # Container output is untrusted display data: keep it printable.
    text = raw.decode("utf-8", errors="replace")
    return "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in text) or "(no output)"


def _remove_quietly(container: docker.models.containers.Container) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException, OSError):
        container.remove(force=True)
