"""The command line: thin wrappers that parse options, show progress and turn
``BundleError`` into one message, a hint and an exit code (see README, Exit codes)."""

from .app import app, main

__all__ = ["app", "main"]
