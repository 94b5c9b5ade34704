"""Name locks: attempts whose object names collide run one after another.

One table per API server (and event loop). An attempt takes the locks of every name it
may touch, in sorted order so that two attempts never wait on each other in a cycle,
and gives them back when its objects are confirmed gone. Entries live only while held
or awaited, so the table does not grow with the number of tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class NameLocks:
    """A table of named asyncio locks."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def acquire(self, keys: Iterable[str]) -> HeldNames:
        """Take every lock in `keys` (sorted); on cancellation, nothing stays held."""
        ordered = sorted(set(keys))
        held = HeldNames(self, [])
        try:
            for key in ordered:
                entry = self._entries.setdefault(key, _Entry())
                entry.users += 1
                try:
                    await entry.lock.acquire()
                except BaseException:
                    self._unref(key)
                    raise
                held.keys.append(key)
        except BaseException:
            held.release()
            raise
        return held

    def _release(self, key: str) -> None:
        self._entries[key].lock.release()
        self._unref(key)

    def _unref(self, key: str) -> None:
        entry = self._entries[key]
        entry.users -= 1
        if entry.users == 0:
            del self._entries[key]


@dataclass
class HeldNames:
    """Locks one attempt holds; `release()` is idempotent."""

    table: NameLocks
    keys: list[str]

    def release(self) -> None:
        for key in reversed(self.keys):
            self.table._release(key)
        self.keys = []
