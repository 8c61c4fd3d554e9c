"""Turning client failures into Terraform diagnostics."""

from __future__ import annotations

from tf.utils import Diagnostics

from provider._errors import ApiError, ClientError


def report(
    diags: Diagnostics, action: str, exc: ClientError, attributes: frozenset[str] = frozenset()
) -> None:
    """Add one error diagnostic for a failed `action`; on the attribute the service names, when it is ours."""
    path = [exc.field] if isinstance(exc, ApiError) and exc.field in attributes else None
    diags.add_error(f"Cannot {action}: {exc.summary}", exc.detail, path=path)
