"""The process behind `kubebench cluster up --detach`.

It owns the control plane's children (they die with it, by parent-death signal), writes
the state file once the API server is ready, and stops everything on SIGTERM or SIGINT.
Run as `python -m kubebench.cluster.supervisor [--port N]`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from kubebench import defaults
from kubebench.cluster.controlplane import ControlPlane
from kubebench.cluster.state import ClusterState, clear_state, error_path, write_state
from kubebench.errors import KubeBenchError
from kubebench.settings import settings


def _stop_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubebench-cluster-supervisor")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    error_path().unlink(missing_ok=True)
    plane = ControlPlane(port=args.port, root_dir=settings().state_dir / "clusters")
    try:
        plane.start()
        assert plane.root is not None and plane.kubeconfig_path is not None
        write_state(
            ClusterState(
                supervisor_pid=os.getpid(),
                server=plane.server,
                kubeconfig=str(plane.kubeconfig_path),
                workdir=str(plane.root),
                pids=plane.pids,
                version=defaults.KUBERNETES_VERSION,
                started_at=time.time(),
                startup_seconds=plane.startup_seconds or 0.0,
            )
        )
        plane.supervise()
    except KubeBenchError as exc:
        error_path().parent.mkdir(parents=True, exist_ok=True)
        error_path().write_text(exc.one_line())
        return 1
    except SystemExit:
        return 0
    finally:
        plane.stop()
        clear_state()


if __name__ == "__main__":
    sys.exit(main())
