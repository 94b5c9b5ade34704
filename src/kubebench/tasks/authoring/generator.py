"""The seeded generator: scenarios of every kind × tier, drawn into a split.

`generate_split("test")` always returns the same tasks: all randomness comes from one
`random.Random(seed)` and pools are fixed per split. The cells of a split are filled
round-robin over each cell's scenarios, so every scenario appears in every split.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from kubebench.tasks.authoring import (
    gen_clusterrole,
    gen_clusterrolebinding,
    gen_configmap,
    gen_namespace,
    gen_role,
    gen_rolebinding,
    gen_secret,
    gen_serviceaccount,
)
from kubebench.tasks.authoring.drafting import Draft, Draw, to_yaml
from kubebench.tasks.authoring.pools import POOLS
from kubebench.tasks.schema import Kind, Task, Tier

KIND_MODULES: dict[Kind, ModuleType] = {
    Kind.Namespace: gen_namespace,
    Kind.ConfigMap: gen_configmap,
    Kind.Secret: gen_secret,
    Kind.ServiceAccount: gen_serviceaccount,
    Kind.Role: gen_role,
    Kind.RoleBinding: gen_rolebinding,
    Kind.ClusterRole: gen_clusterrole,
    Kind.ClusterRoleBinding: gen_clusterrolebinding,
}


@dataclass(frozen=True)
class SplitSpec:
    """How big a split is and where its randomness comes from."""

    name: str
    seed: int
    total: int
    id_prefix: str


SPLITS = {
    "test": SplitSpec("test", seed=20260101, total=810, id_prefix=""),
    "dev": SplitSpec("dev", seed=777001, total=264, id_prefix="dev-"),
}


def cell_sizes(total: int) -> dict[tuple[Kind, Tier], int]:
    """Split `total` over the 24 cells as evenly as possible (the first cells get one more)."""
    cells = [(k, t) for k in Kind for t in Tier]
    base, extra = divmod(total, len(cells))
    return {cell: base + (1 if i < extra else 0) for i, cell in enumerate(cells)}


def task_id(prefix: str, kind: Kind, tier: Tier, number: int) -> str:
    return f"{prefix}{kind.value.lower()}-{tier.value}-{number:03d}"


def _answer_namespaces(draft: Draft) -> set[str]:
    """Namespaces the reference writes into or creates: what an answer may touch."""
    found = set(draft.namespaces)
    for obj in draft.objects:
        if obj["kind"] == "Namespace":
            found.add(obj["metadata"]["name"])
        elif ns := obj["metadata"].get("namespace"):
            found.add(ns)
    return found


def _to_task(draft: Draft, tid: str, kind: Kind, tier: Tier, scenario: str) -> Task:
    return Task(
        id=tid,
        category=kind,
        tier=tier,
        prompt=draft.prompt,
        setup=draft.setup,
        allowed_kinds=sorted(set(draft.allowed_kinds)),
        namespaces=sorted(_answer_namespaces(draft)),
        expectations=draft.expectations,
        reference=to_yaml(draft.objects),
        tags=sorted({*draft.tags, f"scenario:{scenario}"}),
    )


def generate_split(split: str) -> list[Task]:
    """Every task of a split, in id order; deterministic for a given split name."""
    spec = SPLITS[split]
    rng = random.Random(spec.seed)
    draw = Draw(rng=rng, pools=POOLS[split])
    tasks: list[Task] = []
    for (kind, tier), size in cell_sizes(spec.total).items():
        scenarios: list[Callable[[Draw], Draft]] = KIND_MODULES[kind].SCENARIOS[tier]
        for number in range(1, size + 1):
            scenario = scenarios[(number - 1) % len(scenarios)]
            draw.task_id = task_id(spec.id_prefix, kind, tier, number)
            draft = scenario(draw)
            tasks.append(_to_task(draft, draw.task_id, kind, tier, scenario.__name__))
    return tasks
