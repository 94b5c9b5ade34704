"""Options that several commands share, defined once so their flags and help agree."""

from __future__ import annotations

import typer

KUBECONFIG = typer.Option(
    None, "--kubeconfig", help="Use this cluster (kind, minikube, cloud) instead of a local one."
)
CONTEXT = typer.Option(None, "--context", help="Context in --kubeconfig.")
ALLOW_EXTERNAL_WRITES = typer.Option(
    False,
    "--allow-external-writes",
    help="Accept writing model-generated objects into a cluster KubeBench did not start.",
)
