"""What every offline stand-in shares: the labelling and the serving.

A stand-in answers under a real provider's registry address and version, so Terraform cannot tell it
apart; each one therefore says so itself, as a warning in every plan and apply.
"""

from __future__ import annotations

from collections.abc import Callable

from tf.iface import Config, DataSource, Provider, Resource
from tf.schema import Schema
from tf.utils import Diagnostics

STANDIN_SUMMARY = "Offline stand-in for {address} {version}"
STANDIN_DETAIL = (
    "This is not the real provider. It is demoapp's Python stand-in (examples/standins), installed under "
    "the real provider's address because no Terraform registry or provider mirror was reachable. It "
    "implements only the subset of {address} that the baseline demo uses. With network access, run "
    "`demoapp mirror` to fill the local mirror with the real provider."
)


def add_standin_warning(diags: Diagnostics, address: str, version: str) -> None:
    diags.add_warning(
        STANDIN_SUMMARY.format(address=address, version=version),
        STANDIN_DETAIL.format(address=address),
    )


class StandinProvider(Provider):
    """Base of the stand-ins: the real provider's address and version, and the warning that says it is not."""

    ADDRESS: str
    VERSION: str
    TYPE_PREFIX: str
    SCHEMA: Schema

    def get_model_prefix(self) -> str:
        return self.TYPE_PREFIX

    def full_name(self) -> str:
        return self.ADDRESS

    def get_provider_schema(self, diags: Diagnostics) -> Schema:
        return self.SCHEMA

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        pass

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        add_standin_warning(diags, self.ADDRESS, self.VERSION)

    def get_resources(self) -> list[type[Resource]]:
        return []

    def get_data_sources(self) -> list[type[DataSource]]:
        return []


def serve_standin(make_provider: Callable[[], StandinProvider], address: str) -> None:
    """Serve the provider `make_provider` makes (after the handshake) with the project's gRPC server."""
    from examples.standins._servicer import StandinServicer
    from provider._server import serve

    serve(make_provider, program=f"{address} stand-in", servicer_class=StandinServicer)
