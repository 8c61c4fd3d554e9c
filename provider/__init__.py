"""terraform-provider-demoapp: the Terraform provider for the demo service, on the PyPI `tf` framework.

The public names are loaded on first use (PEP 562): `python -m provider` starts the plugin through this
package, and every module imported here would add to the start-up of each of the 3-5 provider processes
Terraform launches per command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provider._mirror import ADDRESS, VERSION, install_launcher, write_cli_config
    from provider._provider import DemoappProvider
    from provider._server import serve

__all__ = ["ADDRESS", "VERSION", "DemoappProvider", "install_launcher", "serve", "write_cli_config"]

_HOMES = {
    "ADDRESS": "provider._mirror",
    "VERSION": "provider._mirror",
    "install_launcher": "provider._mirror",
    "write_cli_config": "provider._mirror",
    "DemoappProvider": "provider._provider",
    "serve": "provider._server",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'provider' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
