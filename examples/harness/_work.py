"""The work folder every harness command writes to: state, mirror, CLI config, results."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_WORK = ".work"


def work_folder(args: argparse.Namespace) -> Path:
    """`--work`, else $DEMOAPP_WORK, else `.work`; created when missing."""
    work = Path(getattr(args, "work", None) or os.environ.get("DEMOAPP_WORK") or DEFAULT_WORK)
    work.mkdir(parents=True, exist_ok=True)
    return work
