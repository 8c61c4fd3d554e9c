"""The `demoapp` CLI's error paths: one message, a hint, a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.harness import cli
from examples.harness._errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(work: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script as a presenter runs it (a subprocess, so tracebacks would show)."""
    environment = {**os.environ, "DEMOAPP_WORK": str(work), "DEMOAPP_PROVIDERS": "standins", **(env or {})}
    environment.pop("DEMOAPP_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "examples.harness.cli", *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "error:" in result.stderr
    assert "hint:" in result.stderr
    for needle in needles:
        assert needle in output


@pytest.mark.parametrize("command", ["status", "recover", "plan", "down", "crash"])
def test_commands_before_up_say_to_start_the_demo(tmp_path: Path, command: str) -> None:
    _assert_clean_failure(_run(tmp_path, command), "no demo was started", "make demo")


def test_bad_port_names_the_setting(tmp_path: Path) -> None:
    _assert_clean_failure(_run(tmp_path, "up", "--port", "0"), "port", "must be 1..65535")


def test_pg_backend_without_connection_string(tmp_path: Path) -> None:
    result = _run(tmp_path, "up", "--backend", "pg", env={"DEMOAPP_PG_CONN_STR": ""})
    _assert_clean_failure(result, "--pg-conn-str")


def test_unreachable_docker_engine(tmp_path: Path) -> None:
    result = _run(tmp_path, "up", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    _assert_clean_failure(result, "Docker engine does not answer", "make docker-engine")


def test_corrupt_settings_file(tmp_path: Path) -> None:
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "settings.json").write_text("{not json")
    _assert_clean_failure(_run(tmp_path, "status"), "not valid JSON")


@pytest.mark.docker
def test_crash_without_a_running_container(tmp_path: Path, docker_client: object) -> None:
    (tmp_path / "baseline").mkdir()
    settings = {"container_name": "demoapp-never-started-e2e", "providers": "STANDINS"}
    (tmp_path / "baseline" / "settings.json").write_text(json.dumps(settings))
    _assert_clean_failure(_run(tmp_path, "crash"), "no running container named", "make demo")


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "explode")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_unexpected_exception_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cmd_doctor", broken)
    monkeypatch.delenv("DEMOAPP_DEBUG", raising=False)
    assert cli.main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: boom" in err
    assert "DEMOAPP_DEBUG=1" in err


def test_harness_error_prints_message_and_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(*_: object) -> int:
        raise HarnessError("the thing broke", "fix the thing")

    monkeypatch.setattr(cli, "cmd_status", failing)
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert "error: the thing broke" in err
    assert "hint: fix the thing" in err


def test_mirror_needs_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.harness import _providers

    monkeypatch.setattr(_providers, "registry_reachable", lambda *args, **kwargs: False)
    assert cli.main(["--work", str(tmp_path), "mirror"]) == 1
    err = capsys.readouterr().err
    assert "only be filled while online" in err
    assert not (tmp_path / "providers").exists()
