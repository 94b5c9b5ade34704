"""`kubebench report` (not yet wired: its issue adds the commands here)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
