"""The service's key-value store: one small engine interface, three engines.

``open_store("lsm" | "memory" | "sqlite", ...)`` returns an :class:`Engine`.
"""

from __future__ import annotations

import os
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


def ephemeral_directory() -> Path:
    """A fresh private directory for an ephemeral store, on tmpfs (/dev/shm) when there is one."""
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    # The pid in the name tells which process a directory left by kill -9 belonged to.
    return Path(tempfile.mkdtemp(prefix=f"demoapp-lsm-{os.getpid()}-", dir=parent))


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
