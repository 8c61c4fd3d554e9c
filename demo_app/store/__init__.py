"""The service's key-value store: one small engine interface, three engines.

``open_store("lsm" | "memory" | "sqlite", ...)`` returns an :class:`Engine`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ._engines.base import SEQUENCE_PREFIX, Engine, StoreBusy, StoreError
from ._engines.lsm import LsmEngine
from ._engines.memory import MemoryEngine
from ._engines.sqlite import SqliteEngine

__all__ = [
    "ENGINES",
    "SEQUENCE_PREFIX",
    "Engine",
    "LsmEngine",
    "MemoryEngine",
    "SqliteEngine",
    "StoreBusy",
    "StoreError",
    "ephemeral_directory",
    "open_store",
]

ENGINES = ("lsm", "memory", "sqlite")


_EPHEMERAL_PREFIX = "demoapp-lsm-"


def ephemeral_directory() -> Path:
    """A fresh private directory for an ephemeral store, on tmpfs (/dev/shm) when there is one.

    A killed service cannot remove its directory, and tmpfs is memory: directories left by processes
    that no longer exist are removed first. The owner's pid is in the name for that.
    """
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    for leftover in parent.glob(f"{_EPHEMERAL_PREFIX}*-*"):
        owner = leftover.name.removeprefix(_EPHEMERAL_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(leftover, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_EPHEMERAL_PREFIX}{os.getpid()}-", dir=parent))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def open_store(engine: str, data_dir: Path | None = None) -> Engine:
    """Open the named engine. ``data_dir`` makes ``lsm`` persistent; without it, ``lsm`` lives in a
    private directory (on tmpfs when there is one) removed on close."""
    if engine == "memory":
        return MemoryEngine()
    if engine == "sqlite":
        return SqliteEngine()
    if engine == "lsm":
        if data_dir is not None:
            return LsmEngine(data_dir, ephemeral=False)
        return LsmEngine(ephemeral_directory(), ephemeral=True, remove_on_close=True)
    raise ValueError(f"unknown store engine {engine!r} (choose from {', '.join(ENGINES)})")
