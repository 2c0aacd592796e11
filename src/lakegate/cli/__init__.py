"""The `lakegate` command line: a thin front over the gateway, one module per command group."""

from lakegate.cli.app import app, main

__all__ = ["app", "main"]
