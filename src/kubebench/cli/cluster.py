"""`kubebench cluster ...`: the local control plane's lifecycle."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from kubebench import defaults
from kubebench.cli.console import err, out, progress_bar
from kubebench.cluster.binaries import build_binaries, resolve_binaries
from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane, ensure_port_free
from kubebench.cluster.kubeconfig import load_kubeconfig
from kubebench.cluster.processes import pid_alive
from kubebench.cluster.state import clear_state, error_path, read_state, state_path
from kubebench.errors import InfrastructureError, UserError
from kubebench.settings import settings

cluster_app = typer.Typer(
    rich_markup_mode=None,
    help="Build, start and stop the local Kubernetes control plane KubeBench grades against.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # SystemExit unwinds the `with ControlPlane()` block, so the children are stopped.
    raise SystemExit(128 + signum)


@cluster_app.command()
def build(
    dest: Path = typer.Option(
        None, "--dest", help="Install folder (default: the per-user cache for this version)."
    ),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Do nothing when usable binaries are already found."
    ),
) -> None:
    """Build etcd, kube-apiserver and kube-controller-manager from the Go module proxy.

    Needs Go >= 1.26; the first build downloads a few GB of modules and takes about ten
    minutes on two cores, later builds reuse Go's caches.
    """
    if if_missing and dest is None:
        try:
            found = resolve_binaries()
        except UserError:
            pass
        else:
            where = ", ".join(sorted(set(found.sources.values())))
            out.print(f"control-plane binaries already present ({where}); nothing to build")
            return
    with progress_bar(transient=True) as bar:
        task = bar.add_task(f"go build {defaults.KUBERNETES_VERSION}", total=None)

        def on_progress(done: int, total: int, package: str) -> None:
            bar.update(task, completed=done, total=total)

        folder = build_binaries(dest, on_progress=on_progress)
    out.print(f"built {', '.join(defaults.BINARY_NAMES)} into {folder}")


@cluster_app.command()
def up(
    detach: bool = typer.Option(
        False,
        "--detach",
        "-d",
        help="Run in the background; stop it with `kubebench cluster down`.",
    ),
    port: int = typer.Option(None, "--port", help="API server port (default: a free one)."),
) -> None:
    """Start a local control plane and print how to reach it.

    In the foreground it runs until Ctrl-C; with --detach it keeps running after the
    command returns and records a state file that `status`, `env` and `down` use.
    """
    resolve_binaries()  # fail fast with the one-line hint before forking anything
    if port is not None:
        ensure_port_free(port)
    if detach:
        _up_detached(port)
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with ControlPlane(port=port) as plane:
        out.print(
            f"[green]ready[/] in {plane.startup_seconds:.1f}s: {plane.server} "
            f"({defaults.KUBERNETES_VERSION})"
        )
        typer.echo(f"export KUBECONFIG={plane.kubeconfig_path}")
        out.print("press Ctrl-C to stop")
        try:
            plane.supervise()
        except KeyboardInterrupt:
            err.print("stopping")


def _up_detached(port: int | None) -> None:
    state = read_state()
    if state is not None and state.alive():
        raise UserError(
            f"a control plane is already running at {state.server} (pid {state.supervisor_pid})",
            hint="`kubebench cluster down` stops it",
        )
    if state is not None:
        err.print(f"removing stale state file {state_path()} (pid {state.supervisor_pid} is gone)")
        clear_state(state)
    settings().state_dir.mkdir(parents=True, exist_ok=True)
    error_path().unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "kubebench.cluster.supervisor"]
    if port is not None:
        cmd += ["--port", str(port)]
    log = (settings().state_dir / "supervisor.log").open("ab")
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + defaults.READY_TIMEOUT_S + 10
    with err.status("starting control plane"):
        while time.monotonic() < deadline:
            state = read_state()
            if state is not None and state.supervisor_pid == proc.pid:
                out.print(
                    f"[green]ready[/] in {state.startup_seconds:.1f}s: {state.server} "
                    f"(pid {state.supervisor_pid})"
                )
                typer.echo(f"export KUBECONFIG={state.kubeconfig}")
                return
            if proc.poll() is not None:
                message = error_path().read_text().strip() if error_path().exists() else ""
                raise UserError(message or f"control plane exited with code {proc.returncode}")
            time.sleep(defaults.POLL_INTERVAL_S)
    proc.terminate()
    raise InfrastructureError("control plane did not become ready in time")


@cluster_app.command()
def down() -> None:
    """Stop the control plane started with `up --detach` and remove its files."""
    state = read_state()
    if state is None:
        err.print("no detached control plane is recorded; nothing to stop")
        return
    if not state.alive():
        clear_state(state)
        err.print(f"removed stale state (pid {state.supervisor_pid} was already gone)")
        return
    os.kill(state.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + defaults.STOP_GRACE_S * 3
    while time.monotonic() < deadline and pid_alive(state.supervisor_pid):
        time.sleep(defaults.POLL_INTERVAL_S)
    if pid_alive(state.supervisor_pid):
        os.kill(state.supervisor_pid, signal.SIGKILL)  # children die with it (PDEATHSIG)
    leftovers = [name for name, pid in state.pids.items() if pid_alive(pid)]
    for name in leftovers:
        os.kill(state.pids[name], signal.SIGKILL)
    clear_state(state)
    out.print(f"stopped control plane at {state.server}")


@cluster_app.command()
def status(
    kubeconfig: Path = typer.Option(None, "--kubeconfig", help="Check an external cluster."),
    context: str = typer.Option(None, "--context", help="Context in --kubeconfig."),
) -> None:
    """Say whether a control plane is up, where, and which version it serves."""
    if kubeconfig is not None or context is not None:
        conn = load_kubeconfig(kubeconfig, context)
        label = f"external cluster (context {conn.context})"
    else:
        state = read_state()
        if state is None:
            out.print("no detached control plane (start one: `kubebench cluster up --detach`)")
            raise typer.Exit(1)
        if not state.alive():
            out.print(f"stale state: pid {state.supervisor_pid} is gone (`kubebench cluster down`)")
            raise typer.Exit(1)
        conn = load_kubeconfig(Path(state.kubeconfig))
        alive = ", ".join(
            f"{n} {p} {'up' if pid_alive(p) else 'DOWN'}" for n, p in state.pids.items()
        )
        label = f"kubebench control plane, up {time.time() - state.started_at:.0f}s ({alive})"

    async def probe() -> tuple[dict, int]:
        async with KubeClient(conn, timeout_s=5) as kube:
            version = await kube.version()
            namespaces = await kube.list("v1", "Namespace")
            return version, len(namespaces)

    version, ns_count = asyncio.run(probe())
    out.print(f"[green]up[/]: {conn.server} — {label}")
    out.print(f"server version {version.get('gitVersion')}, {ns_count} namespaces")


@cluster_app.command()
def env() -> None:
    """Print the KUBECONFIG export of the detached control plane.

    Use it as `eval $(kubebench cluster env)`.
    """
    state = read_state()
    if state is None or not state.alive():
        raise UserError(
            "no detached control plane is running", hint="kubebench cluster up --detach"
        )
    typer.echo(f"export KUBECONFIG={state.kubeconfig}")
