"""One control-plane process: started in its own process group, stopped for sure.

Children get PR_SET_PDEATHSIG=SIGKILL, so the kernel kills them when the process that
started them dies, even by SIGKILL; `stop()` terminates the whole group and waits.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubebench import defaults
from kubebench.errors import InfrastructureError, UserError

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass
class ManagedProcess:
    """A named child process whose output goes to `log_path`."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            if exc.errno == errno.ENOEXEC:
                raise UserError(
                    f"{self.argv[0]} is not a runnable binary (corrupt?)",
                    hint="delete it and run `kubebench cluster build`",
                ) from exc
            raise UserError(f"cannot start {self.name}: {exc.strerror} ({self.argv[0]})") from exc
        finally:
            log.close()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exited(self) -> int | None:
        """Exit code if the process has ended, else None."""
        return self.popen.poll() if self.popen else None

    def log_tail(self, lines: int = 5) -> str:
        """The last non-empty lines of the process's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        kept = [ln for ln in text.splitlines() if ln.strip()]
        return "\n".join(kept[-lines:])

    def raise_if_exited(self) -> None:
        """Turn an early exit into an error that names the process and its last words."""
        code = self.exited()
        if code is None:
            return
        last = self.log_tail(40)
        lowered = last.lower()
        if "address already in use" in lowered:
            raise UserError(
                f"{self.name} could not bind its port: address already in use",
                hint="pick another --port or stop the process holding it",
            )
        reason = _most_telling_line(last) or f"exit code {code}"
        raise InfrastructureError(
            f"{self.name} exited during start-up: {reason}", hint=f"full log: {self.log_path}"
        )

    def stop(self, grace_s: float = defaults.STOP_GRACE_S) -> None:
        """SIGTERM the process group, SIGKILL it after `grace_s`, and reap the child."""
        if self.popen is None or self.popen.poll() is not None:
            return
        pgid = self.popen.pid
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                break
            time.sleep(defaults.POLL_INTERVAL_S)
        _signal_group(pgid, signal.SIGKILL)
        self.popen.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _most_telling_line(text: str) -> str:
    lines = text.splitlines()
    for marker in ("error", "fatal", "panic", "failed"):
        for line in reversed(lines):
            if marker in line.lower():
                return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else ""


def pid_alive(pid: int) -> bool:
    """True when a process with this PID exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def process_start_time(pid: int) -> str | None:
    """When the process started, in clock ticks since boot (None when it is gone): with
    the PID, it names one process even after the PID is reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None
