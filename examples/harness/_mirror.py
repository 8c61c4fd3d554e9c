"""`demoapp mirror`: prepare a demo with no network at all, while the network is still there.

Downloads the real providers the baseline needs into `<work>/providers` (`terraform providers mirror`)
and saves the service image to `<work>/image.tar`. `demoapp up` then uses both without any network.
"""

from __future__ import annotations

import json
from pathlib import Path

from examples.baseline import BaselineSettings, synthesize
from examples.harness import _docker, _providers
from examples.harness._errors import HarnessError
from examples.harness._terraform import Terraform, TerraformError
from provider.install import ADDRESS as DEMOAPP_ADDRESS
from provider.install import write_cli_config

DEMOAPP_SOURCE = DEMOAPP_ADDRESS.removeprefix("registry.terraform.io/")


def fill(work: Path, settings: BaselineSettings) -> tuple[Path, Path]:
    """Returns (provider mirror, image tarball)."""
    work = work.resolve()
    if not _providers.registry_reachable():
        raise HarnessError(
            "registry.terraform.io does not answer: the mirror can only be filled while online",
            "run `demoapp mirror` on a network that reaches the registry, then demo offline",
        )
    # `terraform providers mirror` fetches every provider of a config from its origin registry, and ours is
    # not published: mirror a config that requires only the three real providers.
    folder = work / "mirror-config"
    synthesize(settings, folder)
    config = json.loads((folder / "cdk.tf.json").read_text())
    required = {
        name: requirement
        for name, requirement in config["terraform"]["required_providers"].items()
        if requirement["source"] != DEMOAPP_SOURCE
    }
    (folder / "cdk.tf.json").unlink()
    (folder / "providers.tf.json").write_text(
        json.dumps({"terraform": {"required_providers": required}}, indent=2)
    )
    target = _providers.real_mirror(work)
    try:
        Terraform(folder, write_cli_config(work, [DEMOAPP_ADDRESS])).providers_mirror(
            target, _providers.PLATFORM
        )
    except TerraformError as exc:
        raise HarnessError(str(exc), "check the network, then run `demoapp mirror` again") from exc
    engine = _docker.client()
    if not _docker.image_exists(engine, settings.image):
        raise HarnessError(f"the image {settings.image} is not built", "build it with `make image` first")
    tarball = work / "image.tar"
    with tarball.open("wb") as out:
        for chunk in engine.images.get(settings.image).save(named=True):
            out.write(chunk)
    return target, tarball
