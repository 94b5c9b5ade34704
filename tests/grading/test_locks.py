"""The name-lock table: collisions wait, others run at once, nothing stays held."""

from __future__ import annotations

import asyncio

import pytest

from kubebench.grading.locks import NameLocks


async def test_colliding_holders_run_one_after_another() -> None:
    locks, order = NameLocks(), []

    async def hold(tag: str, keys: list[str], gate: asyncio.Event | None = None) -> None:
        held = await locks.acquire(keys)
        order.append(f"{tag}+")
        if gate is not None:
            await gate.wait()
        order.append(f"{tag}-")
        held.release()

    gate = asyncio.Event()
    first = asyncio.create_task(hold("a", ["ns:x", "ns:y"], gate))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("b", ["ns:y"]))  # collides on ns:y
    third = asyncio.create_task(hold("c", ["ns:z"]))  # free
    await asyncio.wait_for(third, 5)
    assert order == ["a+", "c+", "c-"]
    gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert order[3:] == ["a-", "b+", "b-"]
    assert len(locks) == 0


async def test_cancelled_waiter_leaves_nothing_held() -> None:
    locks = NameLocks()
    held = await locks.acquire(["k1", "k2"])
    waiter = asyncio.create_task(locks.acquire(["k0", "k2"]))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    held.release()
    again = await asyncio.wait_for(locks.acquire(["k0", "k1", "k2"]), 5)
    again.release()
    again.release()  # idempotent
    assert len(locks) == 0
