"""Which providers the demo uses: real ones when a mirror or the registry has them, else the stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples.harness import _providers
from examples.harness._providers import REAL_PROVIDERS, Source


def _fill_packed_mirror(mirror: Path, skip: str | None = None) -> None:
    for address, version in REAL_PROVIDERS.items():
        if address == skip:
            continue
        type_name = address.rsplit("/", 1)[1]
        folder = mirror / address
        folder.mkdir(parents=True)
        (folder / f"terraform-provider-{type_name}_{version}_linux_amd64.zip").write_bytes(b"zip")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """No registry; stand-in installs are recorded instead of performed."""
    installs: list[Path] = []
    monkeypatch.setattr(_providers, "registry_reachable", lambda *args, **kwargs: False)

    def fake_install(work: Path) -> list[str]:
        installs.append(work)
        return list(REAL_PROVIDERS)

    monkeypatch.setattr(_providers, "install_standins", fake_install)
    return installs


def test_our_provider_is_always_installed(tmp_path: Path, offline: list[Path]) -> None:
    from provider._mirror import launcher_path
    from provider.install import ADDRESS, VERSION

    _providers.choose(tmp_path)
    assert launcher_path(tmp_path / "mirror", ADDRESS, VERSION).is_file()


def test_a_full_local_mirror_means_real_providers(tmp_path: Path, offline: list[Path]) -> None:
    _fill_packed_mirror(tmp_path / "providers")
    choice = _providers.choose(tmp_path)
    assert choice.source is Source.REAL_MIRROR
    assert not choice.is_standin
    assert offline == []
    config = choice.cli_config.read_text()
    assert str((tmp_path / "providers").resolve()) in config
    assert '"registry.terraform.io/hashicorp/time"' in config
    assert "direct" not in config


def test_a_partial_mirror_is_not_enough(tmp_path: Path, offline: list[Path]) -> None:
    _fill_packed_mirror(tmp_path / "providers", skip="registry.terraform.io/hashicorp/http")
    assert not _providers.mirror_has_real_providers(tmp_path / "providers")
    assert _providers.choose(tmp_path).source is Source.STANDINS


def test_reachable_registry_means_real_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_providers, "registry_reachable", lambda *args, **kwargs: True)
    choice = _providers.choose(tmp_path)
    assert choice.source is Source.REGISTRY
    config = choice.cli_config.read_text()
    assert "direct" in config
    assert "kreuzwerker" not in config


def test_offline_falls_back_to_standins_in_their_own_folder(tmp_path: Path, offline: list[Path]) -> None:
    choice = _providers.choose(tmp_path)
    assert choice.source is Source.STANDINS
    assert "unreachable" in choice.reason
    assert offline == [tmp_path]
    assert '"registry.terraform.io/kreuzwerker/docker"' in choice.cli_config.read_text()
    # Separate folders, so separate lock files for the stand-ins and the real providers.
    assert Source.STANDINS.folder != Source.REAL_MIRROR.folder == Source.REGISTRY.folder


def test_prefer_real_never_uses_standins(tmp_path: Path, offline: list[Path]) -> None:
    with pytest.raises(LookupError):
        _providers.choose(tmp_path, "real")
    assert offline == []


def test_prefer_standins_skips_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: list[Path]
) -> None:
    def no_network(*args: object, **kwargs: object) -> bool:
        raise AssertionError("the registry must not be probed")

    monkeypatch.setattr(_providers, "registry_reachable", no_network)
    assert _providers.choose(tmp_path, "standins").source is Source.STANDINS


def test_registry_probe_is_false_when_nothing_answers(free_port: object) -> None:
    port = free_port()  # type: ignore[operator]
    assert not _providers.registry_reachable(f"http://127.0.0.1:{port}/.well-known/terraform.json", timeout=1)
