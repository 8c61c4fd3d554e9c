"""Provider benchmark: handshake time, and apply/destroy of N items against built-in terraform_data.

`make bench-provider` (`python -m bench.provider`). Prints a table and writes JSON to bench/results/.
Targets (issue 3): apply ratio ours/terraform_data <= 1.25 at N=200, -parallelism=50; handshake < 80 ms.
A third kind, `noop_item` (bench/noop_provider.py: demoapp_item's schema, no work, the same gRPC server
and warm starts), shows the floor: what any Python provider on `tf` and this server costs Terraform.
The kinds are measured interleaved, run by run, so machine noise hits them alike.

Starts are measured both ways (provider/_zygote.py): warm, forked by the zygote, as every start after
the first one is; and cold (`DEMOAPP_PROVIDER_ZYGOTE=0`), a fresh Python process as on the first start.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import noop_provider
from provider import ADDRESS, VERSION, install_launcher, write_cli_config
from provider._mirror import launcher_path
from provider._zygote import ENABLED_ENV as ZYGOTE_ENABLED_ENV
from provider._zygote import forked_providers_cpu_seconds, running_zygote, socket_path
from provider.acceptance import REQUIRED_PROVIDERS, DemoService, Terraform, install_mirror, provider_block

RESULTS = Path(__file__).resolve().parent / "results"
COUNTS = (50, 200, 500)
PARALLELISMS = (10, 50)
KINDS = ("demoapp_item", "noop_item", "terraform_data")
# The zygotes whose forks serve an apply: their CPU is the providers'.
PROVIDER_MODULES = ("provider", noop_provider.__name__)
NOOP_CONFIG = f"""terraform {{
  required_providers {{
    noop = {{
      source  = "{noop_provider.ADDRESS.removeprefix("registry.terraform.io/")}"
      version = "{noop_provider.VERSION}"
    }}
  }}
}}
provider "noop" {{}}
"""


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def time_to_handshake(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        return time.perf_counter() - start, line.strip()
    finally:
        process.kill()
        process.wait()


def time_to_schema(command: list[str], env: dict[str, str]) -> float:
    """Handshake, TLS connection and the first GetProviderSchema answer: what Terraform waits for."""
    import grpc
    from tf.gen import tfplugin_pb2 as pb
    from tf.gen import tfplugin_pb2_grpc as rpc

    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        assert process.stdout is not None
        _, _, _, socket_path, _, cert = process.stdout.readline().strip().split("|")
        der = base64.b64decode(cert + "=" * (-len(cert) % 4))
        credentials = grpc.ssl_channel_credentials(root_certificates=ssl.DER_cert_to_PEM_cert(der).encode())
        options = [("grpc.ssl_target_name_override", "localhost")]
        with grpc.secure_channel(f"unix:{socket_path}", credentials, options=options) as channel:
            response = rpc.ProviderStub(channel).GetProviderSchema(pb.GetProviderSchema.Request(), timeout=30)
        assert "demoapp_item" in response.resource_schemas
        return time.perf_counter() - start
    finally:
        process.kill()
        process.wait()


def warm_up_zygote(launcher: Path, env: dict[str, str], home: Path) -> None:
    """A cold start spawns the zygote; wait until it listens, so the next starts are warm."""
    time_to_handshake([str(launcher)], env)
    deadline = time.monotonic() + 30
    while not socket_path(home, "provider").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no provider zygote started: see {home}/zygote-provider.log")
        time.sleep(0.05)


def measure_start(launcher: Path, env: dict[str, str], home: Path, runs: int) -> dict[str, Any]:
    python = [sys.executable, "-S", "-P", "-c"]
    python_env = {**env, "PYTHONPATH": ""}
    floor_python = [
        time_to_handshake([*python, "print('x', flush=True)"], python_env)[0] for _ in range(runs)
    ]
    grpc_env = {**env, "PYTHONPATH": os.pathsep.join(sys.path)}
    floor_grpc = [
        time_to_handshake([*python, "import grpc; print('x', flush=True)"], grpc_env)[0] for _ in range(runs)
    ]
    cold_env = {**env, ZYGOTE_ENABLED_ENV: "0"}
    cold = [time_to_handshake([str(launcher)], cold_env)[0] for _ in range(runs)]
    cold_schemas = [time_to_schema([str(launcher)], cold_env) for _ in range(runs)]
    warm_up_zygote(launcher, env, home)
    handshakes = [time_to_handshake([str(launcher)], env)[0] for _ in range(runs)]
    schemas = [time_to_schema([str(launcher)], env) for _ in range(runs)]
    return {
        "runs": runs,
        "handshake_ms": median_ms(handshakes),
        "handshake_min_ms": round(min(handshakes) * 1000, 1),
        "to_first_schema_ms": median_ms(schemas),
        "cold_handshake_ms": median_ms(cold),
        "cold_to_first_schema_ms": median_ms(cold_schemas),
        "floor_python_start_ms": median_ms(floor_python),
        "floor_python_import_grpc_ms": median_ms(floor_grpc),
    }


def config_for(kind: str, count: int, endpoint: str) -> str:
    if kind == "terraform_data":
        return (
            f'resource "terraform_data" "many" {{\n  count = {count}\n  input = "item-${{count.index}}"\n}}\n'
        )
    if kind == "noop_item":
        items = f'resource "noop_item" "many" {{\n  count = {count}\n  name  = "item-${{count.index}}"\n}}\n'
        return NOOP_CONFIG + items
    return (
        REQUIRED_PROVIDERS
        + provider_block(endpoint)
        + f'resource "demoapp_item" "many" {{\n  count = {count}\n  name  = "item-${{count.index}}"\n}}\n'
    )


def timed(action: Callable[..., object], *args: str, zygote_home: Path | None = None) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command and every process it started and reaped.

    Terraform reaps the providers it starts cold; the ones a zygote forked are the zygote's children,
    so with `zygote_home` their CPU is added from the zygotes' counts. The service's CPU is not in it.
    CPU time barely moves when other work shares the machine, wall time does: both are reported.
    """

    def zygotes() -> dict[str, int | None]:
        if zygote_home is None:
            return {}
        return {module: running_zygote(zygote_home, module) for module in PROVIDER_MODULES}

    before = zygotes()
    forked_before = {module: forked_providers_cpu_seconds(pid) for module, pid in before.items() if pid}
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    action(*args)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    for module, pid in zygotes().items():
        if pid is not None:
            # A zygote started during the action counts from zero; a replaced one is not comparable.
            known = forked_before.get(module, 0.0) if before.get(module) == pid else 0.0
            cpu += forked_providers_cpu_seconds(pid) - known
    return wall, cpu


def measure_apply(
    root: Path, env: dict[str, str], service: DemoService, count: int, parallelism: int, repeat: int
) -> dict[str, Any]:
    measures = [f"{phase}_{unit}" for phase in ("apply", "destroy") for unit in ("s", "cpu_s")]
    samples: dict[str, dict[str, list[float]]] = {kind: {m: [] for m in measures} for kind in KINDS}
    flags = f"-parallelism={parallelism}"
    for run in range(repeat):
        for kind in KINDS:
            terraform = Terraform(root / f"{kind}-{count}-{parallelism}-{run}", env)
            terraform.write(config_for(kind, count, service.url))
            terraform.init()
            for phase, action in (("apply", terraform.apply), ("destroy", terraform.destroy)):
                wall, cpu = timed(action, flags, zygote_home=root / "work/home")
                samples[kind][f"{phase}_s"].append(wall)
                samples[kind][f"{phase}_cpu_s"].append(cpu)
    result: dict[str, Any] = {"count": count, "parallelism": parallelism, "repeat": repeat}
    for kind in KINDS:
        for measure in measures:
            result[f"{kind}_{measure}"] = round(statistics.median(samples[kind][measure]), 3)
    for measure in measures:
        baseline = result[f"terraform_data_{measure}"]
        name = measure.removesuffix("_s")
        result[f"ratio_{name}"] = round(result[f"demoapp_item_{measure}"] / baseline, 2)
        result[f"ratio_floor_{name}"] = round(result[f"noop_item_{measure}"] / baseline, 2)
    return result


def terraform_version() -> str:
    shown = subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True, check=True)
    return str(json.loads(shown.stdout)["terraform_version"])


def print_table(start: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print(
        f"\nprovider start (median of {start['runs']}): handshake {start['handshake_ms']} ms warm "
        f"(min {start['handshake_min_ms']}), {start['cold_handshake_ms']} ms cold; to first schema "
        f"{start['to_first_schema_ms']} ms warm, {start['cold_to_first_schema_ms']} ms cold; "
        f"floors: python {start['floor_python_start_ms']} ms, python+import grpc "
        f"{start['floor_python_import_grpc_ms']} ms"
    )
    header = f"{'N':>5} {'P':>3} | {'apply ours':>10} {'tf_data':>8} {'ratio':>5} {'cpu ratio':>9} "
    header += f"{'floor':>5} | {'destroy ours':>12} {'tf_data':>8} {'ratio':>5} {'cpu ratio':>9} {'floor':>5}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['count']:>5} {row['parallelism']:>3} | {row['demoapp_item_apply_s']:>9.2f}s "
            f"{row['terraform_data_apply_s']:>7.2f}s {row['ratio_apply']:>5.2f} "
            f"{row['ratio_apply_cpu']:>9.2f} {row['ratio_floor_apply']:>5.2f} | "
            f"{row['demoapp_item_destroy_s']:>11.2f}s {row['terraform_data_destroy_s']:>7.2f}s "
            f"{row['ratio_destroy']:>5.2f} {row['ratio_destroy_cpu']:>9.2f} "
            f"{row['ratio_floor_destroy']:>5.2f}"
        )
    print(
        "floor: the same ratio for noop_item (bench/noop_provider.py), a provider with demoapp_item's schema "
        "that does no work, on the same gRPC server"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.provider", description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=list(COUNTS))
    parser.add_argument("--parallelism", type=int, nargs="+", default=list(PARALLELISMS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per point; the median is reported")
    parser.add_argument("--start-runs", type=int, default=20, help="provider starts to time")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default: bench/results/...)")
    args = parser.parse_args(argv)

    # Kept after the run (state, logs) for inspection; replaced by the next run.
    root = Path(os.environ.get("DEMOAPP_WORK", ".work")).resolve() / "bench-provider"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = install_mirror(root / "work")
    install_launcher(
        root / "work/mirror", noop_provider.ADDRESS, noop_provider.VERSION, noop_provider.__name__
    )
    write_cli_config(root / "work", [ADDRESS, noop_provider.ADDRESS])
    launcher = launcher_path((root / "work/mirror").resolve(), ADDRESS, VERSION)
    try:
        start = measure_start(launcher, env, root / "work/home", args.start_runs)
        service = DemoService(log_dir=root)
        service.start()
        try:
            rows = [
                measure_apply(root, env, service, count, parallelism, args.repeat)
                for count in args.counts
                for parallelism in args.parallelism
            ]
        finally:
            service.kill()
    except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench-provider failed: {exc}", file=sys.stderr)
        return 1

    print_table(start, rows)
    report = {
        "benchmark": "provider",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "terraform": terraform_version(),
        "targets": {"ratio_apply_at_200_p50": 1.25, "handshake_ms": 80},
        "start": start,
        "apply_destroy": rows,
    }
    output = args.output or RESULTS / "provider.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
