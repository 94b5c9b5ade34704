"""Finding (or building) the etcd, kube-apiserver and kube-controller-manager binaries.

Resolution order, per binary: $KUBEBENCH_ASSETS, $KUBEBUILDER_ASSETS (envtest's layout,
which ships etcd and kube-apiserver but no controller manager), the per-user cache, else
`kubebench cluster build`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kubebench import defaults
from kubebench.errors import UserError
from kubebench.settings import settings

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class BinarySet:
    """Absolute paths of the three control-plane binaries, and where each came from."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    sources: dict[str, str]

    def path(self, name: str) -> Path:
        return {
            "etcd": self.etcd,
            "kube-apiserver": self.kube_apiserver,
            "kube-controller-manager": self.kube_controller_manager,
        }[name]


def _search_dirs() -> list[tuple[str, Path]]:
    env = settings()
    dirs = [
        (f"${name}", folder)
        for name, folder in (
            (defaults.ASSETS_ENV, env.assets_dir),
            (defaults.ENVTEST_ASSETS_ENV, env.envtest_assets_dir),
        )
        if folder is not None
    ]
    dirs.append(("cache", env.binary_cache_dir))
    return dirs


def check_binary(path: Path) -> None:
    """Raise a one-line UserError when `path` is not a runnable executable."""
    if not path.is_file():
        raise UserError(f"{path} is missing", hint="run `kubebench cluster build`")
    if not os.access(path, os.X_OK):
        raise UserError(f"{path} is not executable", hint=f"chmod +x {path}")
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != ELF_MAGIC:
        raise UserError(
            f"{path} is not a Linux executable (corrupt or wrong download)",
            hint="delete it and run `kubebench cluster build`",
        )


def resolve_binaries() -> BinarySet:
    """Find each binary in the search order; one error names every way out if any is missing."""
    found: dict[str, Path] = {}
    sources: dict[str, str] = {}
    dirs = _search_dirs()
    for name in defaults.BINARY_NAMES:
        for label, folder in dirs:
            candidate = folder / name
            if candidate.exists():
                check_binary(candidate)
                found[name], sources[name] = candidate.resolve(), label
                break
    missing = [n for n in defaults.BINARY_NAMES if n not in found]
    if missing:
        raise UserError(
            f"control-plane binaries not found: {', '.join(missing)}",
            hint=(
                f"set ${defaults.ASSETS_ENV} (or ${defaults.ENVTEST_ASSETS_ENV}) to a folder "
                f"holding them, or run `kubebench cluster build` to build "
                f"{defaults.KUBERNETES_VERSION} into {settings().binary_cache_dir} (needs go)"
            ),
        )
    return BinarySet(
        etcd=found["etcd"],
        kube_apiserver=found["kube-apiserver"],
        kube_controller_manager=found["kube-controller-manager"],
        sources=sources,
    )


def controlplane_source_dir() -> Path:
    """The Go module that builds the binaries: shipped in the wheel, or the source tree's."""
    shipped = resources.files("kubebench") / "_controlplane"
    if shipped.is_dir() and (shipped / "go.mod").is_file():
        return Path(str(shipped))
    tree = Path(__file__).resolve().parents[3] / "controlplane"
    if (tree / "go.mod").is_file():
        return tree
    raise UserError("the controlplane Go module is missing from this installation")


def ldflags() -> str:
    """Stamp the version so that /version reports it instead of v0.0.0-master."""
    pkg = "k8s.io/component-base/version"
    return " ".join(
        [
            "-s -w",
            f"-X {pkg}.gitVersion={defaults.KUBERNETES_VERSION}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={defaults.KUBERNETES_MINOR}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    )


def build_binaries(
    dest: Path | None = None,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Build the three binaries with `go build` into `dest` (default: the user cache).

    `on_progress(done, total, package)` is called as Go reports compiled packages. The
    binaries are written to a temporary folder and moved into place only on success, so a
    failed or interrupted build never leaves a half-written binary behind.
    """
    go = shutil.which("go")
    if go is None:
        raise UserError(
            "cannot build the control plane: `go` is not on PATH",
            hint=f"install Go >= 1.26, or set ${defaults.ASSETS_ENV} to prebuilt binaries",
        )
    source = controlplane_source_dir()
    dest = dest or settings().binary_cache_dir
    dest.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    total = _count_packages(go, source, env)
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=dest))
    try:
        cmd = [go, "build", "-v", "-trimpath", "-ldflags", ldflags(), "-o", f"{staging}/"]
        cmd.append("./cmd/...")
        proc = subprocess.Popen(
            cmd, cwd=source, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        assert proc.stderr is not None
        done, tail = 0, []
        for line in proc.stderr:
            line = line.rstrip()
            tail = ([*tail, line])[-20:]
            if line and not line.startswith(("#", " ", "\t")) and ":" not in line:
                done += 1
                if on_progress:
                    on_progress(min(done, total), total, line)
        if proc.wait() != 0:
            detail = next((t for t in reversed(tail) if t.strip()), "no output")
            raise UserError(
                f"`go build` of the control plane failed: {detail}",
                hint="check network access to the Go module proxy and `go version` >= 1.26",
            )
        for name in defaults.BINARY_NAMES:
            os.replace(staging / name, dest / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _count_packages(go: str, source: Path, env: dict[str, str]) -> int:
    result = subprocess.run(
        [go, "list", "-deps", "./cmd/..."], cwd=source, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(
            f"`go list` of the control-plane module failed: {last}",
            hint="check network access to the Go module proxy and `go version` >= 1.26",
        )
    return max(1, len(result.stdout.split()))
