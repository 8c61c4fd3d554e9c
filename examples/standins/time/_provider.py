"""The hashicorp/time stand-in's provider: no settings; its clock and sleeper are injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from tf.iface import Resource
from tf.schema import Schema

from examples.standins._offline import StandinProvider

ADDRESS = "registry.terraform.io/hashicorp/time"
VERSION = "0.13.1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TimeProvider(StandinProvider):
    ADDRESS = ADDRESS
    VERSION = VERSION
    TYPE_PREFIX = "time_"
    SCHEMA = Schema(version=0, description="Offline stand-in for hashicorp/time: time_sleep only.")

    def __init__(
        self,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.clock = clock
        self.sleep = sleep

    def get_resources(self) -> list[type[Resource]]:
        from examples.standins.time.resource_sleep import SleepResource

        return [SleepResource]
