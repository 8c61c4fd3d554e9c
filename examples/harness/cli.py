"""`demoapp`: run the baseline demo on stage (up, status, crash, recover, plan, down, doctor, mirror),
and the parallel-apply stress sweep (stress).

Errors print one message and a hint and exit non-zero; set DEMOAPP_DEBUG=1 to see a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from examples.baseline import BaselineSettings, SettingsError
from examples.harness import _doctor, _mirror, stress
from examples.harness._demo import Demo, Verification
from examples.harness._errors import HarnessError
from examples.harness._terraform import TerraformError
from examples.harness._work import DEFAULT_WORK, work_folder

EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _settings_from(args: argparse.Namespace) -> BaselineSettings:
    pg_conn_str = None
    if args.backend == "pg":
        pg_conn_str = args.pg_conn_str or os.environ.get("DEMOAPP_PG_CONN_STR")
        if not pg_conn_str:
            raise SettingsError("pg_conn_str", "--backend pg needs --pg-conn-str (or DEMOAPP_PG_CONN_STR)")
    return BaselineSettings(
        port=args.port,
        items=args.items,
        image=args.image,
        container_name=args.container_name,
        settle=args.settle,
        pg_conn_str=pg_conn_str,
    )


def _print_verification_outcome(console: Console, verification: Verification, what: str) -> int:
    if verification.ok:
        console.print(f"[bold green]{what}[/]")
        return 0
    console.print(f"[bold red]{what} incomplete:[/] " + "; ".join(verification.problems()))
    return EXIT_PROBLEM


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    settings = _settings_from(args)
    started = time.monotonic()
    verification = Demo(work_folder(args), console).up(settings, args.providers)
    console.print(f"Demo up in {time.monotonic() - started:.1f}s: open [bold]{settings.app_url}[/]")
    return _print_verification_outcome(console, verification, "The page shows the display and the items.")


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    report = Demo(work_folder(args), console).status()
    table = Table(show_header=False)
    for key, value in report.items():
        table.add_row(key, escape(str(value)))
    console.print(table)
    return 0


def cmd_crash(args: argparse.Namespace, console: Console) -> int:
    console.print(Demo(work_folder(args), console).crash(restart=args.restart))
    console.print("Recover with `make recover` (or `demoapp recover`).")
    return 0


def cmd_recover(args: argparse.Namespace, console: Console) -> int:
    started = time.monotonic()
    verification, plan = Demo(work_folder(args), console).recover()
    console.print(f"Recovered in {time.monotonic() - started:.1f}s.")
    if plan.has_changes:
        console.print(f"[bold red]plan is not clean after recover:[/] {escape(plan.describe())}")
        return EXIT_PROBLEM
    return _print_verification_outcome(
        console, verification, "Restored: same display payload, all items, plan clean."
    )


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    plan = Demo(work_folder(args), console).plan()
    if not plan.has_changes:
        console.print("No changes: the infrastructure matches the configuration.")
        return 0
    console.print(f"Changes pending: {escape(plan.describe())}")
    return 2 if args.detailed_exitcode else 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    problems = Demo(work_folder(args), console).down()
    if problems:
        console.print("[bold red]Left behind:[/] " + "; ".join(problems))
        return EXIT_PROBLEM
    console.print("[bold green]Down:[/] no container left, state empty.")
    return 0


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    checks = _doctor.run(work_folder(args).resolve(), args.image, args.port, args.container_name)
    table = Table("check", "", "detail", "fix")
    for check in checks:
        table.add_row(
            check.name,
            "[green]ok[/]" if check.ok else "[red]FAIL[/]",
            escape(check.detail),
            escape(check.fix),
        )
    console.print(table)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        console.print(f"[bold red]{len(failed)} problem(s):[/] {', '.join(failed)}")
        return EXIT_PROBLEM
    return 0


def cmd_mirror(args: argparse.Namespace, console: Console) -> int:
    settings = _settings_from(args)
    providers, tarball = _mirror.fill(work_folder(args), settings)
    console.print(f"Real providers mirrored into {providers}; image saved to {tarball}.")
    console.print("`demoapp up` now needs no network.")
    return 0


def _add_settings_options(parser: argparse.ArgumentParser) -> None:
    defaults = BaselineSettings()
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("DEMOAPP_DEMO_PORT", defaults.port)), help="host port"
    )
    parser.add_argument("--items", type=int, default=defaults.items, help="how many demoapp_item (default 3)")
    parser.add_argument("--image", default=os.environ.get("DEMOAPP_IMAGE", defaults.image))
    parser.add_argument(
        "--container-name", default=os.environ.get("DEMOAPP_CONTAINER", defaults.container_name)
    )
    parser.add_argument("--settle", default=defaults.settle, help="time_sleep after the container (2s)")
    parser.add_argument("--backend", choices=["local", "pg"], default="local", help="where state lives")
    parser.add_argument("--pg-conn-str", help="postgres:// URL for --backend pg (or DEMOAPP_PG_CONN_STR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="demoapp", description=__doc__.splitlines()[0])
    parser.add_argument("--work", help=f"work folder (default: $DEMOAPP_WORK or {DEFAULT_WORK})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="synth, init and apply the baseline demo, then check the page")
    _add_settings_options(up)
    up.add_argument(
        "--providers",
        choices=["auto", "real", "standins"],
        default=os.environ.get("DEMOAPP_PROVIDERS", "auto"),
        help="auto: real providers if a mirror or the registry has them, else the offline stand-ins",
    )
    up.set_defaults(handler=cmd_up)

    commands.add_parser("status", help="container, health, items, display vs state, drift").set_defaults(
        handler=cmd_status
    )
    crash = commands.add_parser("crash", help="kill the demo container")
    crash.add_argument("--restart", action="store_true", help="restart it instead: up, but its memory wiped")
    crash.set_defaults(handler=cmd_crash)
    commands.add_parser(
        "recover", help="apply again, then check the restored display and items"
    ).set_defaults(handler=cmd_recover)
    plan = commands.add_parser("plan", help="terraform plan of the demo")
    plan.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes are pending")
    plan.set_defaults(handler=cmd_plan)
    commands.add_parser("down", help="destroy the demo: no container, empty state").set_defaults(
        handler=cmd_down
    )

    doctor = commands.add_parser("doctor", help="check Docker, terraform, node, providers, ports")
    _add_settings_options(doctor)
    doctor.set_defaults(handler=cmd_doctor)
    mirror = commands.add_parser("mirror", help="while online: mirror the real providers, save the image")
    _add_settings_options(mirror)
    mirror.set_defaults(handler=cmd_mirror)
    stress.add_parser(commands)
    return parser


def _fail(message: str, hint: str | None) -> int:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        console.print(f"[bold]hint:[/] {escape(hint)}")
    return EXIT_PROBLEM


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    handler: Callable[[argparse.Namespace, Console], int] = args.handler
    try:
        return handler(args, console)
    except HarnessError as exc:
        return _fail(exc.message, exc.hint)
    except SettingsError as exc:
        return _fail(f"invalid setting {exc}", "see `demoapp up --help`")
    except TerraformError as exc:
        return _fail(str(exc), "read terraform's message above; `demoapp doctor` checks the set-up")
    except KeyboardInterrupt:
        console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("DEMOAPP_DEBUG"):
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc}", "rerun with DEMOAPP_DEBUG=1 for a traceback")


if __name__ == "__main__":
    sys.exit(main())
