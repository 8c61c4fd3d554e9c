"""Installation into the filesystem mirror, the CLI config, terraform init, and the cached certificate."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import provider
from provider import ADDRESS, VERSION, install_launcher, write_cli_config
from provider._certificate import RENEW_BEFORE_SECONDS, cache_path, ensure_certificate
from provider.acceptance import REQUIRED_PROVIDERS, Terraform, install_mirror
from provider.install import main


def test_launcher_has_the_unpacked_mirror_layout(tmp_path: Path) -> None:
    launcher = install_launcher(tmp_path / "mirror", ADDRESS, VERSION, "provider")
    expected = tmp_path / "mirror/registry.terraform.io/demoapp/demoapp/0.1.0/linux_amd64"
    assert launcher == expected / "terraform-provider-demoapp_v0.1.0"
    assert launcher.stat().st_mode & stat.S_IXUSR
    script = launcher.read_text()
    assert script.startswith(f"#!{sys.executable} -IS\n")
    assert f"HOME = {str(tmp_path / 'home')!r}" in script
    assert "MODULE = 'provider'" in script
    assert cache_path(tmp_path / "home").exists(), "the certificate is made at install time"
    compiled = Path(importlib.util.cache_from_source(str(Path(provider.__file__).with_name("__main__.py"))))
    assert compiled.exists(), "the package is byte-compiled at install time"


def test_bad_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HOST/NAMESPACE/TYPE"):
        install_launcher(tmp_path, "demoapp/demoapp", VERSION, "provider")


def test_cli_config_mirrors_only_the_given_addresses(tmp_path: Path) -> None:
    extra = "registry.terraform.io/hashicorp/time"
    config = write_cli_config(tmp_path, [ADDRESS, extra]).read_text()
    addresses = json.dumps(sorted([ADDRESS, extra]))
    assert f'path    = "{tmp_path / "mirror"}"' in config
    assert f"include = {addresses}" in config and f"exclude = {addresses}" in config


def test_install_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--work", str(tmp_path / "work")]) == 0
    assert (tmp_path / "work/terraform.tfrc").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["--work", str(blocker)]) == 1
    assert "provider install failed" in capsys.readouterr().err


@pytest.mark.terraform
def test_terraform_init_uses_the_mirror_and_writes_the_lock_file(tmp_path: Path) -> None:
    terraform = Terraform(tmp_path / "config", install_mirror(tmp_path / "work"))
    terraform.write(REQUIRED_PROVIDERS)
    terraform.init()
    lock = (terraform.workdir / ".terraform.lock.hcl").read_text()
    assert f'provider "{ADDRESS}"' in lock and f'version     = "{VERSION}"' in lock and "h1:" in lock
    assert "demoapp_item" in terraform.run("providers", "schema", "-json").stdout


def test_certificate_is_cached_and_reused(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path)
    assert ensure_certificate(tmp_path) == first


def test_corrupt_or_expiring_certificate_is_replaced(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path, now=1_000_000)
    cache_path(tmp_path).write_text("{half a file")
    second = ensure_certificate(tmp_path, now=1_000_000)
    assert second != first
    assert ensure_certificate(tmp_path, now=second.not_after - RENEW_BEFORE_SECONDS - 1) == second
    assert ensure_certificate(tmp_path, now=second.not_after - RENEW_BEFORE_SECONDS + 1) != second


def test_concurrent_first_starts_all_get_a_valid_certificate(tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ensure_certificate, [tmp_path] * 16))
    assert all(result.cert_pem.startswith(b"-----BEGIN CERTIFICATE-----") for result in results)
    assert ensure_certificate(tmp_path) in results, "the cache holds one of them, whole"
    assert not [path for path in cache_path(tmp_path).parent.iterdir() if path.name.endswith(".tmp")]


def test_tf_runner_reads_our_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in providers started by `tf.runner.run_provider` share the pre-generated certificate."""
    from tf.runner import _self_signed_cert

    ours = ensure_certificate(tmp_path)
    monkeypatch.setitem(os.environ, "HOME", str(tmp_path))
    chain, _ = _self_signed_cert()
    assert chain == ours.cert_der
