"""Synthesize the baseline demo for plain terraform: `python -m examples.baseline --out DIR`.

Then `cd DIR && terraform init && terraform apply` (with a CLI config that can find the providers;
see the README's "Running the demo").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from examples.baseline import BaselineSettings, SettingsError, synthesize


def main(argv: list[str] | None = None) -> int:
    defaults = BaselineSettings()
    parser = argparse.ArgumentParser(prog="python -m examples.baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write cdk.tf.json into")
    parser.add_argument("--port", type=int, default=defaults.port, help="host port on 127.0.0.1")
    parser.add_argument("--items", type=int, default=defaults.items, help="how many demoapp_item")
    parser.add_argument("--image", default=defaults.image, help="the service image")
    parser.add_argument("--container-name", default=defaults.container_name)
    parser.add_argument("--pg-conn-str", help="use Terraform's pg backend with this postgres:// URL")
    args = parser.parse_args(argv)
    try:
        settings = BaselineSettings(
            port=args.port,
            items=args.items,
            image=args.image,
            container_name=args.container_name,
            pg_conn_str=args.pg_conn_str,
        )
    except SettingsError as exc:
        parser.error(str(exc))
    print(synthesize(settings, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
