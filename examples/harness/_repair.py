"""Repair what a terraform killed mid-apply (SIGKILL) leaves behind, before the next apply.

Two leftovers, both measured in the chaos test:
- the local backend truncates `terraform.tfstate` in place before each write, so the file may be empty or
  cut short; `terraform.tfstate.backup` holds the state from before that apply;
- items whose create was in flight exist on the service but not in state (orphans). The next apply would
  create them again, so their names would exist twice.

The decisions are pure functions (`state_text_problem`, `classify_orphans`); `Demo` carries them out.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.harness._errors import HarnessError

BACKUP_SUFFIX = ".backup"
# The unreadable file is kept next to the state for a post-mortem, never read again.
BROKEN_SUFFIX = ".broken"


def state_text_problem(text: str) -> str | None:
    """Why `text` is not a usable state file, or None when terraform can read it."""
    if not text.strip():
        return "empty"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(document, dict) or "version" not in document:
        return "not a Terraform state (no version)"
    return None


def restore_local_state(state_file: Path) -> str | None:
    """Restore an unreadable `state_file` from its backup; a readable (or absent) one is left alone.

    Returns what was done, for the presenter, or None when there was nothing to do."""
    try:
        problem = state_text_problem(state_file.read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"unreadable ({exc})"
    if problem is None:
        return None
    backup = state_file.with_name(state_file.name + BACKUP_SUFFIX)
    broken = state_file.with_name(state_file.name + BROKEN_SUFFIX)
    if not backup.exists():
        # terraform writes the backup at its first state write, unless there was no state before: this was
        # the first apply, and what it created is known to no state (the stray container goes next).
        state_file.replace(broken)
        return (
            f"{state_file.name} was {problem} and has no backup (terraform stopped during the first apply): "
            f"starting from no state; the broken file is kept as {broken.name}"
        )
    try:
        backup_problem = state_text_problem(backup.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        backup_problem = f"unreadable ({exc})"
    if backup_problem is not None:
        raise HarnessError(
            f"{state_file} is {problem}, and its backup {backup} is {backup_problem}",
            "put a copy of the state back first; or, to start over, remove both files and the demo's "
            "container (`docker rm -f <name>`), then run `make demo`",
        )
    shutil.copyfile(state_file, broken)
    shutil.copyfile(backup, state_file)
    return (
        f"{state_file.name} was {problem} (terraform stopped while writing it): restored the state from "
        f"before that apply ({backup.name}); the broken file is kept as {broken.name}"
    )


@dataclass(frozen=True)
class LiveItem:
    id: str
    name: str

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> LiveItem:
        return cls(id=str(item["id"]), name=str(item["name"]))

    def __str__(self) -> str:
        return f"{self.id} ({self.name})"


@dataclass
class OrphanPlan:
    """What to do with the service's items that state does not hold."""

    # Configured address -> id of the orphan that takes it (`terraform import`).
    imports: dict[str, str] = field(default_factory=dict)
    # Orphans with a demo item's name that state (or an import) already covers: the apply would keep them
    # as second copies.
    duplicates: list[LiveItem] = field(default_factory=list)
    # Orphans whose name is no demo item's (added through the page, say): reported, never deleted.
    foreign: list[LiveItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.imports or self.duplicates or self.foreign)


def find_orphans(state_ids: Iterable[str], live: Sequence[LiveItem]) -> list[LiveItem]:
    """The live items whose id state does not hold."""
    known = set(state_ids)
    return [item for item in live if item.id not in known]


def classify_orphans(
    configured: Mapping[str, str], in_state: Mapping[str, str], live: Sequence[LiveItem]
) -> OrphanPlan:
    """Decide each orphan's fate.

    `configured`: address -> name the config gives it; `in_state`: address -> id of the items state holds
    (refreshed, so every id exists on the service); `live`: every item on the service.

    A configured address missing from state takes the orphan with its name (the lowest id if the name is
    there twice: identical demo items are interchangeable); the other orphans with a demo item's name are
    duplicates; the rest are foreign.
    """
    orphans = sorted(find_orphans(in_state.values(), live), key=lambda item: (len(item.id), item.id))
    plan = OrphanPlan()
    taken: set[str] = set()
    for address, name in configured.items():
        if address in in_state:
            continue
        match = next((item for item in orphans if item.name == name and item.id not in taken), None)
        if match is not None:
            plan.imports[address] = match.id
            taken.add(match.id)
    demo_names = set(configured.values())
    for item in orphans:
        if item.id in taken:
            continue
        (plan.duplicates if item.name in demo_names else plan.foreign).append(item)
    return plan
