"""Offline stand-in for hashicorp/time 0.13.1: `time_sleep`."""

from examples.standins.time._provider import ADDRESS, VERSION, TimeProvider

__all__ = ["ADDRESS", "VERSION", "TimeProvider"]
