"""`terraform-provider-demoapp`: started by Terraform, never by hand (it prints go-plugin's handshake)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tf.iface import Provider

# httpx imports its command-line client (and with it click and rich, ~50 ms) whenever they are
# installed; the plugin never uses it, so take httpx's own fallback for when they are missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# What a zygote (provider._zygote) imports once for all the providers it forks: the resources and data
# sources too (the provider imports them on first use; their dataclasses cost ~8 ms to build).
PRELOAD = (
    "provider._provider",
    "provider._client",
    "provider.resource_item",
    "provider.resource_display",
    "provider.data_source_system",
    "provider.data_source_items",
    "provider.data_source_display",
)


def main() -> None:
    from provider._server import serve, worker_count

    def make_provider() -> Provider:
        from provider._provider import DemoappProvider

        # Called after `serve` checked the setting: one connection per worker.
        return DemoappProvider(max_connections=worker_count(os.environ))

    serve(make_provider, program="terraform-provider-demoapp")


if __name__ == "__main__":
    main()
