"""Every default KubeBench uses, in one place.

Other modules import from here instead of repeating a literal, so that a change of
version, path or timeout is one edit.
"""

from __future__ import annotations

import os
from pathlib import Path

# The Kubernetes release the control plane is built from (controlplane/go.mod pins it).
KUBERNETES_VERSION = "v1.37.2"
KUBERNETES_MINOR = "37"

BINARY_NAMES = ("etcd", "kube-apiserver", "kube-controller-manager")

# Environment variables that name a folder of prebuilt binaries, in resolution order.
ASSETS_ENV = "KUBEBENCH_ASSETS"
ENVTEST_ASSETS_ENV = "KUBEBUILDER_ASSETS"


def cache_dir() -> Path:
    """Per-user cache root (honours XDG_CACHE_HOME and KUBEBENCH_CACHE_DIR)."""
    if explicit := os.environ.get("KUBEBENCH_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubebench"


def binary_cache_dir() -> Path:
    """Where `kubebench cluster build` installs the binaries for the pinned version."""
    return cache_dir() / "bin" / KUBERNETES_VERSION


def state_dir() -> Path:
    """Where a detached control plane records its state file and logs."""
    if explicit := os.environ.get("KUBEBENCH_STATE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kubebench"


# Control plane timings (seconds).
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 5.0
POLL_INTERVAL_S = 0.05

# Networking of the local control plane.
BIND_ADDRESS = "127.0.0.1"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# Controllers kube-controller-manager runs: enough for namespace finalization,
# aggregated ClusterRoles, default ServiceAccounts and kube-root-ca.crt, nothing that
# needs nodes or a cloud.
CONTROLLERS = (
    "namespace-controller",
    "clusterrole-aggregation-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "garbage-collector-controller",
)

# API client.
API_TIMEOUT_S = 30.0
FIELD_MANAGER = "kubebench"
