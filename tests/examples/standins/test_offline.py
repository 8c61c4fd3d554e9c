"""What the stand-ins share: their labelling, their installation, and the plan rules added to `tf`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tf.gen import tfplugin_pb2 as pb
from tf.types import Unknown
from tf.utils import Diagnostic, Diagnostics, read_dynamic_value, to_dynamic_value

from examples.standins import STANDINS, install
from examples.standins._offline import StandinProvider
from examples.standins._servicer import StandinServicer
from examples.standins.docker import DockerProvider
from examples.standins.docker.resource_container import validate_container
from examples.standins.http import HttpProvider
from examples.standins.time import TimeProvider


@pytest.mark.parametrize("provider", [DockerProvider(environ={}), TimeProvider(), HttpProvider()])
def test_configure_warns_that_it_is_a_standin_naming_the_real_provider(provider: StandinProvider) -> None:
    diags = Diagnostics()
    provider.configure_provider(diags, {"host": None} if isinstance(provider, DockerProvider) else {})
    (warning,) = diags.diagnostics
    assert warning.severity == Diagnostic.WARNING
    assert warning.summary == f"Offline stand-in for {provider.ADDRESS} {provider.VERSION}"
    assert "not the real provider" in (warning.detail or "")


def test_standins_list_the_real_addresses_and_versions() -> None:
    assert [(s.address, s.version) for s in STANDINS] == [
        ("registry.terraform.io/kreuzwerker/docker", "3.6.2"),
        ("registry.terraform.io/hashicorp/time", "0.13.1"),
        ("registry.terraform.io/hashicorp/http", "3.5.0"),
    ]
    providers: tuple[type[StandinProvider], ...] = (DockerProvider, TimeProvider, HttpProvider)
    for standin, provider in zip(STANDINS, providers, strict=True):
        assert (standin.address, standin.version) == (provider.ADDRESS, provider.VERSION)


def test_install_writes_launchers_that_answer_the_handshake(tmp_path: Path) -> None:
    launchers = install(tmp_path / "mirror")
    assert [p.relative_to(tmp_path / "mirror").parts[:4] for p in launchers] == [
        ("registry.terraform.io", "kreuzwerker", "docker", "3.6.2"),
        ("registry.terraform.io", "hashicorp", "time", "0.13.1"),
        ("registry.terraform.io", "hashicorp", "http", "3.5.0"),
    ]
    for launcher in launchers:
        # go-plugin's magic cookie is what Terraform sets; the first stdout line is the handshake.
        env = {
            **os.environ,
            "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
        }
        process = subprocess.Popen(
            [launcher], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        )
        try:
            assert process.stdout is not None
            handshake = process.stdout.readline()
        finally:
            process.kill()
            process.communicate()
        assert handshake.startswith("1|6|unix|"), handshake


def container_state(**values) -> dict:
    return {
        "name": "demo",
        "image": "sha256:abc",
        "env": None,
        "restart": None,
        "must_run": None,
        "wait": None,
        "wait_timeout": None,
        "rm": None,
        "id": None,
        "exit_code": None,
        "network_data": None,
        "ports": [{"internal": 8080, "external": None, "ip": "127.0.0.1", "protocol": None}],
        "healthcheck": [],
        **values,
    }


def plan(prior: dict | None, proposed: dict) -> pb.PlanResourceChange.Response:
    servicer = StandinServicer(DockerProvider(environ={}))
    request = pb.PlanResourceChange.Request(
        type_name="docker_container",
        prior_state=to_dynamic_value(prior),
        proposed_new_state=to_dynamic_value(proposed),
        config=to_dynamic_value(proposed),
    )
    return servicer.PlanResourceChange(request, None)


def test_create_plans_an_unset_external_port_unknown() -> None:
    response = plan(None, container_state())
    planned = read_dynamic_value(response.planned_state)
    assert planned["ports"][0]["external"] is Unknown
    assert planned["ports"][0]["ip"] == "127.0.0.1"
    assert planned["id"] is Unknown and planned["exit_code"] is Unknown


def test_create_keeps_a_configured_external_port() -> None:
    ports = [{"internal": 8080, "external": 18080, "ip": "127.0.0.1", "protocol": "tcp"}]
    planned = read_dynamic_value(plan(None, container_state(ports=ports)).planned_state)
    assert planned["ports"][0]["external"] == 18080


def applied(**values) -> dict:
    ports = [{"internal": 8080, "external": 32768, "ip": "127.0.0.1", "protocol": None}]
    return container_state(id="c1", exit_code=0, env=[], network_data=[], ports=ports, **values)


def test_a_change_inside_ports_or_healthcheck_forces_replacement() -> None:
    prior = applied()
    moved = [{"internal": 9090, "external": 32768, "ip": "127.0.0.1", "protocol": None}]
    response = plan(prior, {**prior, "ports": moved})
    assert [step.attribute_name for path in response.requires_replace for step in path.steps] == ["ports"]
    check = [
        {"test": ["CMD", "true"], "interval": "2s", "timeout": None, "start_period": None, "retries": None}
    ]
    response = plan(prior, {**prior, "healthcheck": check})
    assert [step.attribute_name for path in response.requires_replace for step in path.steps] == [
        "healthcheck"
    ]


def test_restart_changes_in_place() -> None:
    prior = applied()
    response = plan(prior, {**prior, "restart": "unless-stopped"})
    assert list(response.requires_replace) == []
    assert read_dynamic_value(response.planned_state)["restart"] == "unless-stopped"


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"restart": "sometimes"}, ["restart"]),
        ({"wait_timeout": -1}, ["wait_timeout"]),
        (
            {"ports": [{"internal": 0, "external": None, "ip": None, "protocol": None}]},
            ["ports", (0,), "internal"],
        ),
        (
            {"ports": [{"internal": 80, "external": 70000, "ip": None, "protocol": None}]},
            ["ports", (0,), "external"],
        ),
        (
            {"ports": [{"internal": 80, "external": None, "ip": "localhost", "protocol": None}]},
            ["ports", (0,), "ip"],
        ),
        (
            {"ports": [{"internal": 80, "external": None, "ip": None, "protocol": "http"}]},
            ["ports", (0,), "protocol"],
        ),
        (
            {
                "healthcheck": [
                    {"test": ["CMD"], "interval": "2 s", "timeout": None, "start_period": None, "retries": 1}
                ]
            },
            ["healthcheck", (0,), "interval"],
        ),
        (
            {
                "healthcheck": [
                    {"test": [], "interval": None, "timeout": None, "start_period": None, "retries": None}
                ]
            },
            ["healthcheck", (0,), "test"],
        ),
    ],
)
def test_bad_container_configuration_names_the_attribute(values: dict, path: list) -> None:
    diags = Diagnostics()
    validate_container(diags, container_state(**values))
    assert [d.path for d in diags.diagnostics] == [path]


def test_a_good_container_configuration_passes() -> None:
    diags = Diagnostics()
    check = {"test": ["CMD", "true"], "interval": "2s", "timeout": "1s", "start_period": "5s", "retries": 10}
    validate_container(diags, container_state(restart="unless-stopped", wait_timeout=30, healthcheck=[check]))
    assert not diags.diagnostics
