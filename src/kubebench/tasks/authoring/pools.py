"""Realistic names and values the generator draws from, one disjoint set per split
(`data/pools.yaml`).

The test and dev splits use different teams, apps, people, registries and domains, so
that few-shot examples taken from dev never leak names into test prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubebench.tasks.authoring.data_files import load_data


@dataclass(frozen=True)
class NamePools:
    """Everything a generator may name things after, for one split."""

    teams: tuple[str, ...]
    apps: tuple[str, ...]
    envs: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    bots: tuple[str, ...]
    registries: tuple[str, ...]
    domains: tuple[str, ...]
    idp_prefixes: tuple[str, ...]
    ticket_prefixes: tuple[str, ...]
    api_group_domain: str


TEST_POOLS = load_data("pools.yaml", NamePools, "test")
DEV_POOLS = load_data("pools.yaml", NamePools, "dev")
POOLS = {"test": TEST_POOLS, "dev": DEV_POOLS}
