"""Each stand-in declares only what the real provider has, with the same names, types, flags and nesting.

The real schemas come from the prebuilt cdktf bindings' jsii assemblies (see standin_bindings).
"""

from __future__ import annotations

import copy

import pytest
from standin_bindings import BindingStruct, assembly, check_schema
from tf.schema import Attribute, Block, Schema
from tf.types import Number, String

from examples.standins._blocks import ListNestedBlock
from examples.standins.docker import DockerProvider
from examples.standins.docker.resource_container import SCHEMA as CONTAINER_SCHEMA
from examples.standins.docker.resource_image import SCHEMA as IMAGE_SCHEMA
from examples.standins.http import HttpProvider
from examples.standins.http.data_source_http import SCHEMA as HTTP_SCHEMA
from examples.standins.time import TimeProvider
from examples.standins.time.resource_sleep import SCHEMA as SLEEP_SCHEMA

DOCKER = "cdktf_cdktf_provider_docker"
TIME = "cdktf_cdktf_provider_time"
HTTP = "cdktf_cdktf_provider_http"

# (what, stand-in schema, bindings package, lib directory, config struct, class)
CASES = [
    ("docker provider", DockerProvider.SCHEMA, DOCKER, "provider", "DockerProviderConfig", "DockerProvider"),
    ("docker_image", IMAGE_SCHEMA, DOCKER, "image", "ImageConfig", "Image"),
    ("docker_container", CONTAINER_SCHEMA, DOCKER, "container", "ContainerConfig", "Container"),
    ("time provider", TimeProvider.SCHEMA, TIME, "provider", "TimeProviderConfig", "TimeProvider"),
    ("time_sleep", SLEEP_SCHEMA, TIME, "sleep", "SleepConfig", "Sleep"),
    ("http provider", HttpProvider.SCHEMA, HTTP, "provider", "HttpProviderConfig", "HttpProvider"),
    ('data "http"', HTTP_SCHEMA, HTTP, "data-http", "DataHttpConfig", "DataHttp"),
]


def real_schema(package: str, directory: str, struct: str, main_class: str) -> BindingStruct:
    return assembly(package).module(directory).struct(struct, main_class=main_class)


@pytest.mark.parametrize(("what", "schema", "package", "directory", "struct", "main_class"), CASES)
def test_standin_schema_matches_the_real_provider(
    what: str, schema: Schema, package: str, directory: str, struct: str, main_class: str
) -> None:
    assert check_schema(schema, real_schema(package, directory, struct, main_class), what) == []


def test_the_bindings_versions_are_the_ones_the_standins_claim() -> None:
    from examples.standins import STANDINS

    claimed = {standin.address.split("/", 1)[1]: standin.version for standin in STANDINS}
    for package, name in ((DOCKER, "kreuzwerker/docker"), (TIME, "hashicorp/time"), (HTTP, "hashicorp/http")):
        source = assembly(package).module("provider").typescript
        assert f"registry.terraform.io/providers/{name}/{claimed[name]}/docs" in source


def test_the_baseline_subset_is_declared() -> None:
    """What the baseline demo sets or reads exists in the stand-ins (a truth test of nothing would pass)."""
    container = {a.name for a in CONTAINER_SCHEMA.attributes}
    container |= {b.type_name for b in CONTAINER_SCHEMA.block_types}
    baseline = {"name", "image", "env", "restart", "must_run", "wait", "wait_timeout", "rm", "id"}
    assert baseline | {"exit_code", "ports", "healthcheck", "network_data"} <= container
    assert {a.name for a in IMAGE_SCHEMA.attributes} >= {"name", "keep_locally", "image_id", "repo_digest"}
    assert {a.name for a in SLEEP_SCHEMA.attributes} >= {"create_duration", "triggers", "id"}
    http = {a.name for a in HTTP_SCHEMA.attributes} | {b.type_name for b in HTTP_SCHEMA.block_types}
    assert http >= {"url", "method", "request_headers", "retry", "response_body", "status_code", "id"}


def _container_schema_with(change) -> Schema:
    schema = copy.deepcopy(CONTAINER_SCHEMA)
    change(schema)
    return schema


def _rename(schema: Schema) -> None:
    next(a for a in schema.attributes if a.name == "wait_timeout").name = "wait_timeout_seconds"


def _retype(schema: Schema) -> None:
    next(a for a in schema.attributes if a.name == "restart").type = Number()


def _not_computed(schema: Schema) -> None:
    ports = next(b for b in schema.block_types if b.type_name == "ports")
    next(a for a in ports.block.attributes if a.name == "external").computed = False


def _required(schema: Schema) -> None:
    next(a for a in schema.attributes if a.name == "wait").required = True


def _unbounded_healthcheck(schema: Schema) -> None:
    next(b for b in schema.block_types if b.type_name == "healthcheck").max_items = None


def _set_block(schema: Schema) -> None:
    from tf.blocks import SetNestedBlock

    index = next(i for i, b in enumerate(schema.block_types) if b.type_name == "ports")
    schema.block_types[index] = SetNestedBlock("ports", schema.block_types[index].block)


def _block_as_attribute(schema: Schema) -> None:
    schema.attributes.append(Attribute("healthcheck", String(), optional=True))
    schema.block_types = [b for b in schema.block_types if b.type_name != "healthcheck"]


def _invented_block(schema: Schema) -> None:
    schema.block_types.append(ListNestedBlock("sidecar", Block(attributes=[])))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_rename, "docker_container.wait_timeout_seconds: attribute is unknown in the real schema"),
        (_retype, "docker_container.restart: type number, real string"),
        (_not_computed, "docker_container.ports.external: computed=False, real True"),
        (_required, "docker_container.wait: required=True, real False"),
        (_unbounded_healthcheck, "docker_container.healthcheck: max_items None, real 1"),
        (_set_block, "docker_container.ports: nesting set, real list"),
        (_block_as_attribute, "docker_container.healthcheck: attribute is a block in the real schema"),
        (_invented_block, "docker_container.sidecar: block is unknown in the real schema"),
    ],
)
def test_the_check_catches_a_wrong_schema(change, expected: str) -> None:
    truth = real_schema(DOCKER, "container", "ContainerConfig", "Container")
    assert expected in check_schema(_container_schema_with(change), truth, "docker_container")
