"""The one door to cdktf: everything else in `examples/` imports its constructs from here.

cdktf is archived upstream; `cdktn` is the community fork with the same API. Keeping every import of it
(and of the prebuilt provider bindings) in this module makes the switch a one-file change.

The demoapp provider has no prebuilt bindings, so its provider and resources are small
`TerraformProvider` / `TerraformResource` subclasses that synthesize their own attributes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

# Must be set before jsii starts its node process, i.e. before the first cdktf import.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from cdktf import (
    App,
    Fn,
    ITerraformDependable,
    LocalBackend,
    PgBackend,
    TerraformCount,
    TerraformOutput,
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
    TerraformResource,
    TerraformResourceLifecycle,
    TerraformStack,
)
from cdktf_cdktf_provider_docker.container import Container, ContainerHealthcheck, ContainerPorts
from cdktf_cdktf_provider_docker.image import Image
from cdktf_cdktf_provider_docker.provider import DockerProvider
from cdktf_cdktf_provider_http.data_http import DataHttp, DataHttpRetry
from cdktf_cdktf_provider_http.provider import HttpProvider
from cdktf_cdktf_provider_time.provider import TimeProvider
from cdktf_cdktf_provider_time.sleep import Sleep
from constructs import Construct

__all__ = [
    "DEMOAPP_SOURCE",
    "DEMOAPP_VERSION",
    "App",
    "Construct",
    "Container",
    "ContainerHealthcheck",
    "ContainerPorts",
    "DataHttp",
    "DataHttpRetry",
    "DemoappDisplay",
    "DemoappItem",
    "DemoappProvider",
    "DockerProvider",
    "Fn",
    "HttpProvider",
    "Image",
    "LocalBackend",
    "PgBackend",
    "Sleep",
    "TerraformCount",
    "TerraformOutput",
    "TerraformResourceLifecycle",
    "TerraformStack",
    "TimeProvider",
]

DEMOAPP_SOURCE = "demoapp/demoapp"
DEMOAPP_VERSION = "0.1.0"
_DEMOAPP_METADATA = TerraformProviderGeneratorMetadata(
    provider_name="demoapp", provider_version_constraint=DEMOAPP_VERSION
)


def _without_none(attributes: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in attributes.items() if value is not None}


class DemoappProvider(TerraformProvider):
    """`provider "demoapp"`: `endpoint` is the service's base URL (or `DEMOAPP_ENDPOINT`)."""

    def __init__(self, scope: Construct, id: str, *, endpoint: str | None = None) -> None:
        super().__init__(
            scope,
            id,
            terraform_resource_type="demoapp",
            terraform_generator_metadata=_DEMOAPP_METADATA,
            terraform_provider_source=DEMOAPP_SOURCE,
        )
        self._endpoint = endpoint

    def _synthesize_attributes(self) -> dict[str, Any]:
        return _without_none({"endpoint": self._endpoint})


class DemoappItem(TerraformResource):
    """`resource "demoapp_item"`: one item; `name`/`description` may hold Terraform expressions."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        description: str | None = None,
        provider: DemoappProvider,
        count: int | TerraformCount | None = None,
        depends_on: Sequence[ITerraformDependable] | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            terraform_resource_type="demoapp_item",
            terraform_generator_metadata=_DEMOAPP_METADATA,
            provider=provider,
            count=count,
            depends_on=depends_on,
        )
        self._name = name
        self._description = description

    def _synthesize_attributes(self) -> dict[str, Any]:
        return _without_none({"name": self._name, "description": self._description})


class DemoappDisplay(TerraformResource):
    """`resource "demoapp_display"`: the service's display document, `data` a JSON string."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        data: str,
        provider: DemoappProvider,
        lifecycle: TerraformResourceLifecycle | None = None,
    ) -> None:
        super().__init__(
            scope,
            id,
            terraform_resource_type="demoapp_display",
            terraform_generator_metadata=_DEMOAPP_METADATA,
            provider=provider,
            lifecycle=lifecycle,
        )
        self._data = data

    def _synthesize_attributes(self) -> dict[str, Any]:
        return {"data": self._data}
