"""Offline stand-in for hashicorp/http 3.5.0: `data "http"`."""

from examples.standins.http._provider import ADDRESS, VERSION, HttpProvider

__all__ = ["ADDRESS", "VERSION", "HttpProvider"]
