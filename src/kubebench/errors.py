"""The small error hierarchy of KubeBench.

- `UserError`: the user can fix it (a bad flag, a missing file). The CLI prints its
  one-line message and a hint, and exits non-zero, never with a traceback.
- `InfrastructureError`: something around the model failed (API server down, a model
  endpoint timing out). The runner retries and records it apart from model failures.
Model failures are neither: they are graded, never raised.
"""

from __future__ import annotations


class KubeBenchError(Exception):
    """Base of every error KubeBench raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as a single line, for terminals and logs."""
        text = " ".join(self.message.split())
        return f"{text} ({self.hint})" if self.hint else text

    def __str__(self) -> str:
        return self.one_line()


class UserError(KubeBenchError):
    """Bad input the user can correct."""


class InfrastructureError(KubeBenchError):
    """A failure of the harness's surroundings; retried, recorded, never a model failure."""
