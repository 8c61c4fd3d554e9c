"""Offline stand-ins for the real providers the baseline demo names, for when no registry is reachable.

Each is a Python `tf` provider served from the unpacked filesystem mirror under the real provider's
address and version, implementing only what the baseline uses, and saying so in every plan and apply.

Lock files: Terraform hashes the mirror's launcher script, so a `.terraform.lock.hcl` written with the
stand-ins refuses the real providers and the reverse; keep them apart (the harness runs each kind in its
own folder), and drop the stand-ins' lock file when the launchers are rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from examples.standins._offline import STANDIN_SUMMARY


@dataclass(frozen=True)
class Standin:
    address: str
    version: str
    module: str

    @property
    def label(self) -> str:
        """The warning's summary that every plan and apply with this stand-in prints."""
        return STANDIN_SUMMARY.format(address=self.address, version=self.version)


STANDINS = (
    Standin("registry.terraform.io/kreuzwerker/docker", "3.6.2", "examples.standins.docker"),
    Standin("registry.terraform.io/hashicorp/time", "0.13.1", "examples.standins.time"),
    Standin("registry.terraform.io/hashicorp/http", "3.5.0", "examples.standins.http"),
)
ADDRESSES = [standin.address for standin in STANDINS]


def install(mirror: Path, home: Path | None = None) -> list[Path]:
    """Write every stand-in's launcher into the unpacked filesystem mirror; returns the launchers."""
    from provider.install import install_launcher

    return [
        install_launcher(mirror, standin.address, standin.version, standin.module, home=home)
        for standin in STANDINS
    ]


__all__ = ["ADDRESSES", "STANDINS", "Standin", "install"]
