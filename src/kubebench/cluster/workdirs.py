"""Working folders of local control planes: private, owned, and removed when orphaned.

Each control plane keeps its data (etcd, the CA key, the admin key) in a folder of its
own, under a per-user 0700 folder (`$TMPDIR/kubebench-<uid>/` by default). The folder
records its owner (PID and process start time); a process that was killed before it
could clean up leaves a folder whose owner is gone, and the next start removes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from kubebench.cluster.processes import process_start_time
from kubebench.errors import UserError

PREFIX = "kubebench-cp-"
OWNER_FILE = "owner"


def user_temp_root() -> Path:
    """`$TMPDIR/kubebench-<uid>`, created 0700; refused when someone else owns it."""
    root = Path(tempfile.gettempdir()) / f"kubebench-{os.getuid()}"
    return private_dir(root)


def private_dir(path: Path) -> Path:
    """Create `path` 0700 (parents as needed) and check that it is ours and private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UserError(
            f"{path} is not a folder of this user (a symlink or another user's?)",
            hint="remove it, or set TMPDIR to a private folder",
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


# A folder without an owner file younger than this may be one being set up right now.
_UNOWNED_GRACE_S = 120.0


def _owner_alive(folder: Path) -> bool:
    try:
        pid_text, started = (folder / OWNER_FILE).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        if time.time() - folder.stat().st_mtime < _UNOWNED_GRACE_S:
            return True
        return _mentioned_by_a_process(folder)
    return process_start_time(pid) == started


def _mentioned_by_a_process(folder: Path) -> bool:
    """Whether a live process names the folder on its command line (etcd's data dir):
    the test for folders of older versions, which recorded no owner."""
    needle = str(folder).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (proc / "cmdline").read_bytes():
                return True
    return False


def remove_stale(parent: Path) -> list[Path]:
    """Remove this user's control-plane folders in `parent` whose owner is gone."""
    removed = []
    with contextlib.suppress(OSError):
        for folder in parent.glob(f"{PREFIX}*"):
            with contextlib.suppress(OSError):
                info = folder.lstat()
                if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                    continue
                if not _owner_alive(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder)
    return removed


def new_workdir(parent: Path | None = None) -> Path:
    """A fresh 0700 control-plane folder owned by this process, after removing the
    orphaned ones (also those older versions left directly in the system temp dir)."""
    if parent is None:
        parent = user_temp_root()
        remove_stale(Path(tempfile.gettempdir()))
    else:
        private_dir(parent)
    remove_stale(parent)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    pid = os.getpid()
    (folder / OWNER_FILE).write_text(f"{pid} {process_start_time(pid) or 0}\n")
    return folder
