"""The harness's one error type: a message for the presenter and a hint to fix it."""

from __future__ import annotations


class HarnessError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
