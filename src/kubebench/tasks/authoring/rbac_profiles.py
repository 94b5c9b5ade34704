"""Permission profiles for RBAC scenarios (`data/rbac.yaml`): what a role grants, spelled
out verb by verb, and what it must not allow, each with the SubjectAccessReview that
proves it.

A profile's prompt text names every verb and resource its checks assert, so any rule
layout that grants exactly that passes, and a wildcard fails the forbidden checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from kubebench.tasks.authoring.data_files import load_data
from kubebench.tasks.authoring.drafting import code, join_words, rule, url_rule, verbs_text
from kubebench.tasks.schema import AccessCheck


@dataclass(frozen=True)
class Grant:
    """Verbs on one resource (optionally a subresource or named objects), or on URLs."""

    verbs: tuple[str, ...]
    resource: str = ""  # plural, with "/sub" for a subresource
    group: str = ""
    names: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def rule(self) -> dict[str, Any]:
        if self.urls:
            return url_rule(list(self.verbs), list(self.urls))
        return rule(list(self.verbs), [self.resource], [self.group], list(self.names) or None)

    def text(self) -> str:
        if self.urls:
            return f"{verbs_text(list(self.verbs))} on the non-resource URL " + join_words(
                [code(u) for u in self.urls]
            )
        what = code(self.resource)
        if self.group:
            what += f" ({code(self.group)})"
        elif "/" not in self.resource and self.resource in _CORE_AMBIGUOUS:
            what += " (core API group)"
        if self.names:
            what += " named " + join_words([code(n) for n in self.names], "or")
        return f"{verbs_text(list(self.verbs))} on {what}"

    def checks(self, ns: str) -> list[AccessCheck]:
        if self.urls:
            return [AccessCheck(verb=v, non_resource_url=u) for v in self.verbs for u in self.urls]
        res, _, sub = self.resource.partition("/")
        names = self.names or ("",)
        return [
            AccessCheck(
                verb=v, resource=res, subresource=sub, group=self.group, namespace=ns, name=n
            )
            for v in self.verbs
            for n in names
        ]


_CORE_AMBIGUOUS = {"events"}


@dataclass(frozen=True)
class Forbidden:
    """Something the prompt says must not be possible, and the review that proves it."""

    text: str
    verb: str
    resource: str = ""
    group: str = ""
    name: str = ""
    url: str | None = None
    cluster: bool = False  # a cluster-scoped resource: ask without a namespace

    def check(self, ns: str) -> AccessCheck:
        if self.url is not None:
            return AccessCheck(verb=self.verb, non_resource_url=self.url)
        res, _, sub = self.resource.partition("/")
        return AccessCheck(
            verb=self.verb,
            resource=res,
            subresource=sub,
            group=self.group,
            namespace="" if self.cluster else ns,
            name=self.name,
        )


@dataclass(frozen=True)
class Profile:
    """A job a subject does, the grants it needs, and what it must not do."""

    key: str
    purpose: str
    grants: tuple[Grant, ...]
    forbidden: tuple[Forbidden, ...] = ()
    role_stem: str = ""

    def rules(self) -> list[dict[str, Any]]:
        return [g.rule() for g in self.grants]

    def allowed_checks(self, ns: str) -> list[AccessCheck]:
        return [c for g in self.grants for c in g.checks(ns)]

    def denied_checks(self, ns: str) -> list[AccessCheck]:
        return [f.check(ns) for f in self.forbidden]

    def grant_text(self) -> str:
        return join_words([g.text() for g in self.grants], "plus")

    def forbidden_text(self) -> str:
        return join_words([f.text for f in self.forbidden], "or")


@dataclass(frozen=True)
class _ProfileSet:
    draw: tuple[str, ...]  # the placeholders' kinds, in the order their names are drawn
    profiles: tuple[Profile, ...]


def _filled(profile: Profile, names: dict[str, str]) -> Profile:
    """`profile` with its `{kind}` placeholders replaced by the drawn names."""

    def fill(text: str) -> str:
        return text.format_map(names)

    grants = tuple(replace(g, names=tuple(fill(n) for n in g.names)) for g in profile.grants)
    forbidden = tuple(replace(f, text=fill(f.text), name=fill(f.name)) for f in profile.forbidden)
    return replace(profile, grants=grants, forbidden=forbidden)


@cache
def _profile_set(key: str) -> _ProfileSet:
    return load_data("rbac.yaml", _ProfileSet, key)


def _profiles(key: str, draw_name: Callable[[str], str]) -> list[Profile]:
    chosen = _profile_set(key)
    names = {kind: draw_name(kind) for kind in chosen.draw}
    return [_filled(p, names) for p in chosen.profiles]


def namespaced_profiles(draw_name: Callable[[str], str]) -> list[Profile]:
    """Profiles for namespaced roles; `draw_name(kind)` names objects for resourceNames."""
    return _profiles("namespaced_profiles", draw_name)


def cluster_profiles(draw_name: Callable[[str], str]) -> list[Profile]:
    """Profiles for ClusterRoles (cluster-scoped resources, all namespaces, URLs)."""
    return _profiles("cluster_profiles", draw_name)


READ: tuple[str, ...] = load_data("rbac.yaml", tuple[str, ...], "read_verbs")
ALL_VERBS: tuple[str, ...] = load_data("rbac.yaml", tuple[str, ...], "all_verbs")
ROLE_GRANTS: tuple[Grant, ...] = load_data("rbac.yaml", tuple[Grant, ...], "role_grants")
ROLE_EXTRA_GRANTS: tuple[Grant, ...] = load_data(
    "rbac.yaml", tuple[Grant, ...], "role_extra_grants"
)
CLUSTER_GRANTS: tuple[Grant, ...] = load_data("rbac.yaml", tuple[Grant, ...], "cluster_grants")
CLUSTER_EXTRA_GRANTS: tuple[Grant, ...] = load_data(
    "rbac.yaml", tuple[Grant, ...], "cluster_extra_grants"
)
