"""Install terraform-provider-demoapp into the work folder's filesystem mirror and write the CLI config.

Usage: `python -m provider.install --work .work` (what `make provider` runs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provider._mirror import ADDRESS, VERSION, install_launcher, write_cli_config

__all__ = ["ADDRESS", "VERSION", "install_launcher", "main", "write_cli_config"]

MODULE = "provider"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.install", description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".work"), help="work folder (default: .work)")
    args = parser.parse_args(argv)
    try:
        launcher = install_launcher(args.work / "mirror", ADDRESS, VERSION, MODULE)
        config = write_cli_config(args.work, [ADDRESS])
    except OSError as exc:
        print(f"provider install failed: {exc}", file=sys.stderr)
        return 1
    print(f"installed {ADDRESS} {VERSION}: {launcher}")
    print(f"CLI config: {config} (export TF_CLI_CONFIG_FILE={config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
