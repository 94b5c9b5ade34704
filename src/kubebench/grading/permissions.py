"""Exact RBAC checks, from the API server's own answers.

What a subject may do is what a SelfSubjectRulesReview reports while the harness
impersonates it, per namespace. Its *grant* is that, minus what its **twin** may do: an
identity with the same groups and no bindings of its own (the subject as it was before
the answer, since task subjects are unique names nothing else binds). A review in a
namespace that can never exist (`defaults.CLUSTER_REVIEW_NAMESPACE`) holds no
RoleBinding, so it shows exactly the cluster-wide grants (ClusterRoleBindings).

The review's rules are compared as sets of single permissions (verb, API group,
resource, object name, or verb on a non-resource URL), wildcards kept as written: a `*`
is always more than a task asks. Nothing here decides whether a request is allowed:
what may look missing from the rules is put to a SubjectAccessReview before it is
reported, so only the server's authorizer says yes or no. A rule for a group/resource
pair the server does not serve grants nothing and is ignored (`apiGroups: ["", "apps"]`
with `resources: [pods, deployments]` is not over-broad). Where the server says its
rules review is incomplete (a webhook authorizer), SubjectAccessReviews over discovery's
resources and verbs stand in for it (named grants cannot be swept that way).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.grading.verdict import ExpectationResult
from kubebench.tasks.schema import (
    PermissionsExpectation,
    PolicyRule,
    Subject,
    SubjectsExpectation,
    Task,
)

RBAC_GROUP = "rbac.authorization.k8s.io"
CLUSTER = ""  # the scope name of cluster-wide grants
_AUTHENTICATED = "system:authenticated"
_SHOWN = 6  # permissions named in a one-line reason; `observed` lists them all


@dataclass(frozen=True, order=True)
class Permission:
    """One thing a rule allows: a verb on a resource (optionally one named object), or a
    verb on a non-resource URL. Wildcards stay as written (`*`, `pods/*`)."""

    verb: str
    api_group: str = ""
    resource: str = ""  # plural, "pods/log" for a subresource
    name: str = ""  # resourceName; "" means every object
    url: str = ""  # non-resource URL (then the fields above are empty)

    @property
    def wildcard(self) -> bool:
        parts = (self.verb, self.api_group, *self.resource.split("/"), self.url)
        return any(p == "*" or p.endswith("*") for p in parts if p)

    def describe(self, namespace: str) -> str:
        """`delete pods (core) in namespace shop` / `get /metrics` style text."""
        if self.url:
            return f"{self.verb} {self.url}"
        group = self.api_group or "core"
        text = f"{self.verb} {self.resource} ({group})"
        if self.name:
            text += f" named {self.name!r}"
        return text + (f" in namespace {namespace}" if namespace else " cluster-wide")

    def as_dict(self, namespace: str) -> dict[str, str]:
        if self.url:
            return {"verb": self.verb, "non_resource_url": self.url}
        out = {"verb": self.verb, "resource": self.resource, "api_group": self.api_group}
        if self.name:
            out["resource_name"] = self.name
        out["namespace"] = namespace or "*"
        return out


def rule_permissions(rule: Mapping[str, Any]) -> set[Permission]:
    """Every permission one rule lists (the API's camelCase spelling of a rule)."""
    verbs = [str(v) for v in rule.get("verbs") or []]
    urls = [str(u) for u in rule.get("nonResourceURLs") or []]
    if urls:
        return {Permission(verb=v, url=u) for v in verbs for u in urls}
    names = [str(n) for n in rule.get("resourceNames") or []] or [""]
    return {
        Permission(verb=v, api_group=str(g), resource=str(r), name=n)
        for v in verbs
        for g in rule.get("apiGroups") or []
        for r in rule.get("resources") or []
        for n in names
    }


def policy_rule_dict(rule: PolicyRule) -> dict[str, Any]:
    """A task's PolicyRule as the API spells a rule."""
    out: dict[str, Any] = {"verbs": list(rule.verbs)}
    if rule.non_resource_urls:
        out["nonResourceURLs"] = list(rule.non_resource_urls)
        return out
    out["apiGroups"] = list(rule.api_groups)
    out["resources"] = list(rule.resources)
    if rule.resource_names:
        out["resourceNames"] = list(rule.resource_names)
    return out


def rules_permissions(rules: Iterable[PolicyRule]) -> set[Permission]:
    return {p for r in rules for p in rule_permissions(policy_rule_dict(r))}


# -- identities -------------------------------------------------------------------------


def subject_identity(subject: Subject) -> tuple[str, list[str]]:
    """The user and groups the API server would authorize a request from `subject` as."""
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or "default"
        user = f"system:serviceaccount:{ns}:{subject.name}"
        return user, ["system:serviceaccounts", f"system:serviceaccounts:{ns}", _AUTHENTICATED]
    if subject.kind == "Group":
        # A review needs some user; this one is bound to nothing.
        return "kubebench:probe:group-member", list(dict.fromkeys([subject.name, _AUTHENTICATED]))
    return subject.name, [_AUTHENTICATED]


def twin_identity(subject: Subject) -> tuple[str, list[str]]:
    """The same groups without the subject's own grants: its permissions before any
    binding names it (for a Group, the member's other groups)."""
    _, groups = subject_identity(subject)
    if subject.kind == "Group":
        groups = [g for g in groups if g != subject.name]
    return "kubebench:twin", groups


def subject_text(subject: Subject) -> str:
    if subject.kind == "ServiceAccount":
        return f"ServiceAccount {subject.namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


def _same_subject(a: Subject, b: Subject) -> bool:
    if a.kind != b.kind or a.name != b.name:
        return False
    return a.kind != "ServiceAccount" or (a.namespace or "default") == (b.namespace or "default")


def binding_subjects(objects: Sequence[Mapping[str, Any]]) -> list[tuple[Subject, str]]:
    """(subject, namespace of its grant; "" cluster-wide) for every subject of every
    RoleBinding and ClusterRoleBinding among `objects`, in order, without repeats."""
    out: list[tuple[Subject, str]] = []
    for obj in objects:
        kind = obj.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not str(obj.get("apiVersion", "")).startswith(f"{RBAC_GROUP}/"):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        ns = str(meta.get("namespace") or "default") if kind == "RoleBinding" else CLUSTER
        for raw in obj.get("subjects") or []:
            if not isinstance(raw, dict) or raw.get("kind") not in (
                "User",
                "Group",
                "ServiceAccount",
            ):
                continue
            sa_ns = raw.get("namespace") or (ns if raw["kind"] == "ServiceAccount" else None)
            subject = Subject(
                kind=raw["kind"],
                name=str(raw.get("name", "")),
                namespace=sa_ns if raw["kind"] == "ServiceAccount" else None,
            )
            if (subject, ns) not in out:
                out.append((subject, ns))
    return out


# -- reviews ----------------------------------------------------------------------------


def review_namespace(scope: str) -> str:
    """The namespace a rules review for `scope` is asked in."""
    return scope or defaults.CLUSTER_REVIEW_NAMESPACE


class RulesReviews:
    """The rules reviews of one evaluation, each identity and namespace asked once (a
    re-read asks again). Values are permission sets; incomplete reviews are replaced
    by SubjectAccessReviews over discovery."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self._asked: dict[tuple[str, tuple[str, ...], str], asyncio.Future[set[Permission]]] = {}

    async def permissions(
        self, user: str, groups: list[str], scope: str, *, again: bool = False
    ) -> set[Permission]:
        key = (user, tuple(groups), scope)
        if again or key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self._review(user, groups, scope))
        return await asyncio.shield(self._asked[key])

    async def _review(self, user: str, groups: list[str], scope: str) -> set[Permission]:
        review = await self.kube.rules_review(
            user=user, groups=groups, namespace=review_namespace(scope)
        )
        if review.incomplete:
            return await swept_permissions(self.kube, user, groups, scope)
        found: set[Permission] = set()
        for rule in [*review.resource_rules, *review.non_resource_rules]:
            found |= rule_permissions(rule)
        return found

    async def served(self) -> set[tuple[str, str]]:
        return {(info.group, info.plural) for info in (await self.kube.discover()).values()}


async def swept_permissions(
    kube: KubeClient, user: str, groups: list[str], scope: str
) -> set[Permission]:
    """What a rules review would list, asked as one SubjectAccessReview per served
    resource and verb discovery names (objects without a name; no URLs)."""
    mapping = await kube.discover()
    pairs = sorted(
        {(info.group, info.plural, verb) for info in mapping.values() for verb in info.verbs}
    )

    async def ask(group: str, plural: str, verb: str) -> Permission | None:
        info = next(i for i in mapping.values() if (i.group, i.plural) == (group, plural))
        result = await kube.access_review(
            user=user,
            groups=groups,
            verb=verb,
            resource=plural,
            group=group,
            namespace=scope if info.namespaced else "",
        )
        return Permission(verb, group, plural) if result.allowed else None

    found = await asyncio.gather(*(ask(g, p, v) for g, p, v in pairs))
    return {p for p in found if p is not None}


def _meaningful(permission: Permission, served: set[tuple[str, str]]) -> bool:
    """False for a rule's cross product that names a resource the server does not serve
    in that group (it grants nothing); wildcards and URLs always count."""
    if permission.url or permission.wildcard:
        return True
    return (permission.api_group, permission.resource.split("/")[0]) in served


async def _server_allows(
    kube: KubeClient, user: str, groups: list[str], permission: Permission, scope: str
) -> bool:
    if permission.url:
        result = await kube.access_review(
            user=user, groups=groups, verb=permission.verb, non_resource_url=permission.url
        )
        return result.allowed
    resource, _, sub = permission.resource.partition("/")
    result = await kube.access_review(
        user=user,
        groups=groups,
        verb=permission.verb,
        resource=resource,
        group=permission.api_group,
        subresource=sub,
        namespace=scope,
        name=permission.name,
    )
    return result.allowed


def _listing(found: list[tuple[str, Permission]]) -> str:
    text = "; ".join(p.describe(ns) for ns, p in found[:_SHOWN])
    return text + (f"; and {len(found) - _SHOWN} more" if len(found) > _SHOWN else "")


# -- expectations -----------------------------------------------------------------------


def grant_differences(
    expected: Mapping[str, set[Permission]],
    observed: Mapping[str, set[Permission]],
    served: set[tuple[str, str]],
) -> tuple[list[tuple[str, Permission]], list[tuple[str, Permission]]]:
    """(extra, unseen) as (scope, permission) pairs: granted beyond what was expected
    (an extra found cluster-wide is reported once, as cluster-wide), and expected but
    not listed by the review (missing unless the server's authorizer allows it)."""
    cluster_extra = (
        {p for p in observed[CLUSTER] - expected[CLUSTER] if _meaningful(p, served)}
        if CLUSTER in observed
        else set()
    )
    extra: list[tuple[str, Permission]] = []
    for scope in expected:
        found = {p for p in observed[scope] - expected[scope] if _meaningful(p, served)}
        if scope:
            found -= cluster_extra
        extra += [(scope, p) for p in sorted(found)]
    unseen = [(s, p) for s in expected for p in sorted(expected[s] - observed[s])]
    return extra, unseen


def reviewed_scopes(exp: PermissionsExpectation, task: Task) -> list[str]:
    """Where the grant is reviewed: its scopes, every namespace the answer may write to,
    and cluster-wide wherever the answer may write a ClusterRoleBinding."""
    scopes = [s.namespace for s in exp.scopes] + list(task.namespaces)
    if "ClusterRoleBinding" in task.allowed_kinds:
        scopes.append(CLUSTER)
    return list(dict.fromkeys(scopes))


def expected_permissions(exp: PermissionsExpectation, task: Task) -> dict[str, set[Permission]]:
    """Per reviewed scope, what the subject must be granted there (cluster-wide grants
    show in every namespace's review)."""
    by_scope = {s.namespace: rules_permissions(s.rules) for s in exp.scopes}
    cluster = by_scope.get(CLUSTER, set())
    return {
        scope: cluster | (by_scope.get(scope, set()) if scope else set())
        for scope in reviewed_scopes(exp, task)
    }


async def permissions_result(
    index: int,
    exp: PermissionsExpectation,
    task: Task,
    reviews: RulesReviews,
    deadline: float,
) -> ExpectationResult:
    """Exact grant: nothing missing, nothing extra, in every reviewed scope."""
    user, groups = subject_identity(exp.subject)
    twin_user, twin_groups = twin_identity(exp.subject)
    expected = expected_permissions(exp, task)
    served = await reviews.served()

    async def observe(again: bool) -> dict[str, set[Permission]]:
        baseline, *seen = await asyncio.gather(
            reviews.permissions(twin_user, twin_groups, CLUSTER),
            *(reviews.permissions(user, groups, s, again=again) for s in expected),
        )
        return {s: got - baseline for s, got in zip(expected, seen, strict=True)}

    observed = await observe(False)
    # Grants can lag behind a fresh write (authorizer cache, aggregated ClusterRoles).
    while any(expected[s] - observed[s] for s in expected) and time.monotonic() < deadline:
        await asyncio.sleep(defaults.EXPECTATION_POLL_INTERVAL_S)
        observed = await observe(True)

    extra, unseen = grant_differences(expected, observed, served)
    allowed = await asyncio.gather(
        *(_server_allows(reviews.kube, user, groups, p, s) for s, p in unseen)
    )
    missing = [sp for sp, ok in zip(unseen, allowed, strict=True) if not ok]

    reasons = []
    if extra:
        reasons.append(f"{len(extra)} extra permission(s): {_listing(extra)}")
    if missing:
        reasons.append(f"{len(missing)} missing: {_listing(missing)}")
    where = ", ".join(f"namespace {s}" if s else "cluster-wide" for s in expected)
    return ExpectationResult(
        index=index,
        kind="permissions",
        description=exp.description
        or f"{subject_text(exp.subject)} has exactly the requested permissions ({where})",
        passed=not extra and not missing,
        reason="; ".join(reasons),
        observed={
            "extra": [p.as_dict(s) for s, p in extra],
            "missing": [p.as_dict(s) for s, p in missing],
            "reviewed": [s or "*" for s in expected],
        },
    )


async def subjects_result(
    index: int,
    exp: SubjectsExpectation,
    answer: Sequence[Mapping[str, Any]],
    reviews: RulesReviews,
) -> ExpectationResult:
    """Every subject the answer's bindings name, other than the allowed ones, must gain
    nothing from them: its rules review (where the binding applies) minus its twin's."""
    served = await reviews.served()
    candidates = [
        (s, scope)
        for s, scope in binding_subjects(answer)
        if not any(_same_subject(s, a) for a in exp.allowed)
    ]

    async def gains(subject: Subject, scope: str) -> list[Permission]:
        user, groups = subject_identity(subject)
        twin_user, twin_groups = twin_identity(subject)
        got, baseline = await asyncio.gather(
            reviews.permissions(user, groups, scope),
            reviews.permissions(twin_user, twin_groups, CLUSTER),
        )
        return sorted(p for p in got - baseline if _meaningful(p, served))

    gained = await asyncio.gather(*(gains(s, scope) for s, scope in candidates))
    extra = [(s, scope, g) for (s, scope), g in zip(candidates, gained, strict=True) if g]
    allowed_text = ", ".join(subject_text(a) for a in exp.allowed) or "nobody"
    reason = "; ".join(
        f"{subject_text(s)} also gains {len(g)} permission(s): " + _listing([(scope, p) for p in g])
        for s, scope, g in extra
    )
    return ExpectationResult(
        index=index,
        kind="subjects",
        description=exp.description or f"only {allowed_text} gain access",
        passed=not extra,
        reason=reason,
        observed={
            "extra_subjects": [
                {
                    "subject": s.model_dump(exclude_none=True),
                    "gains": [p.as_dict(scope) for p in g],
                }
                for s, scope, g in extra
            ]
        },
    )
