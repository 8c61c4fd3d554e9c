"""The errors of the demo service client, and the display document it returns.

Kept apart from `provider._client` so the resources can name them without importing httpx: Terraform
starts the provider several times per command, and only the processes that call the API need httpx.
"""

from __future__ import annotations

from dataclasses import dataclass

# Error text from the service is untrusted: shown in a terminal, so it is cut short and stripped of
# control characters.
_MAX_ERROR_TEXT = 300


def untrusted_text(text: str, limit: int = _MAX_ERROR_TEXT) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return printable if len(printable) <= limit else printable[:limit] + "..."


class ClientError(Exception):
    """A failed call to the service; `summary` and `detail` are ready for a Terraform diagnostic."""

    def __init__(self, summary: str, detail: str):
        super().__init__(f"{summary}: {detail}")
        self.summary = summary
        self.detail = detail


class ServiceUnreachable(ClientError):
    pass


class ApiError(ClientError):
    def __init__(self, method: str, url: str, status: int, message: str, field: str | None):
        self.status = status
        self.message = message
        self.field = field
        where = f" (field {field!r})" if field else ""
        super().__init__(
            f"demoapp API error {status}",
            f"{method} {url} answered {status}: {message}{where}",
        )


class NotFound(ApiError):
    pass


@dataclass(frozen=True)
class DisplayDocument:
    """The display as the service holds it: `text` byte for byte as it was put."""

    text: str
    updated_at: str | None
