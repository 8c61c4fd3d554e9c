"""Rich rendering of terraform's `-json` events: a spinner for the step, a line per finished resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from examples.harness._terraform import Event, EventHandler

_PAST = {"create": "created", "update": "updated", "delete": "destroyed", "read": "read", "noop": "unchanged"}


@contextmanager
def step(console: Console, title: str) -> Iterator[EventHandler]:
    """Show `title` with a spinner while the block runs; the yielded handler turns terraform events into
    per-resource progress lines."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        # Piped output (make in CI, tests) gets the per-resource lines only, no spinner frames.
        disable=not console.is_terminal,
    )
    task = progress.add_task(escape(title))

    def on_event(event: Event) -> None:
        address = escape(event.address or "")
        if event.type == "apply_start":
            progress.update(task, description=f"{escape(title)}: {event.action or 'apply'} {address}")
        elif event.type == "apply_complete":
            verb = _PAST.get(event.action or "", event.action or "done")
            elapsed = event.elapsed_seconds
            took = f" ({elapsed:.1f}s)" if elapsed is not None else ""
            progress.console.print(f"  [green]✓[/] {address} {verb}{took}")
        elif event.type == "apply_errored":
            progress.console.print(f"  [red]✗[/] {address} failed")
        elif event.type == "planned_change":
            progress.console.print(
                f"  [yellow]~[/] {address} will be {_PAST.get(event.action or '', event.action)}"
            )
        elif event.type == "resource_drift":
            progress.console.print(f"  [yellow]![/] {address} changed outside terraform")

    with progress:
        yield on_event
