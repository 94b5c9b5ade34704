"""ClusterRole scenarios: single-rule and multi-rule ClusterRoles (cluster-scoped
resources, all-namespace reads, non-resource URLs), and aggregated ClusterRoles.

Like Role tasks, a ClusterRole is bound in setup to a probe user and checked through
access reviews; an aggregated role's rules are filled in by the controller manager, so
its checks poll until they appear.
"""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    cluster_role_obj,
    code,
    compose,
    expect_access,
    expect_object,
    expect_permissions,
    join_words,
    m,
    probe_binding,
    singular,
    user,
)
from kubebench.tasks.authoring.rbac_profiles import (
    CLUSTER_EXTRA_GRANTS,
    CLUSTER_GRANTS,
    Profile,
    cluster_profiles,
)
from kubebench.tasks.schema import Tier


def _probe_setup(draw: Draw, name: str) -> list[dict]:
    return [probe_binding(draw, "ClusterRole", name, None)]


def _name(draw: Draw, stem: str) -> str:
    return draw.cluster_name(
        lambda: draw.pick(
            (f"{draw.team()}-{stem}", f"{stem}-{draw.team()}", f"{draw.app()}-{stem}")
        )
    )


def basic_single_rule(draw: Draw) -> Draft:
    g = draw.pick(CLUSTER_GRANTS)
    name = _name(draw, f"{singular(g.resource)}-{draw.pick(('reader', 'viewer', 'access'))}")
    cr = cluster_role_obj(name, [g.rule()])
    probe = user(draw.probe_user())
    detail = draw.pick(
        (
            f"grant only {g.text()} across the cluster",
            f"allow {g.text()} (all namespaces where relevant) and nothing more",
        )
    )
    what = draw.pick((f"a ClusterRole named {code(name)}", f"ClusterRole {code(name)}"))
    exps = [
        expect_object(cr),
        expect_permissions(
            probe, {"": [g.rule()]}, "the ClusterRole's rules grant exactly what was asked"
        ),
    ]
    return Draft(
        compose(draw, what, [detail]),
        [cr],
        exps,
        ["ClusterRole"],
        [],
        setup=_probe_setup(draw, name),
    )


def intermediate_multi_rule(draw: Draw) -> Draft:
    first = draw.pick(CLUSTER_GRANTS)
    extras = [
        g
        for g in draw.sample(CLUSTER_EXTRA_GRANTS, 2)
        if g.resource.split("/")[0] != first.resource or not g.resource
    ]
    grants = [first, *extras]
    name = _name(
        draw, draw.pick(("platform-ops", "cluster-debug", "node-ops", "sre-tools", "monitoring"))
    )
    labels = {"app.kubernetes.io/managed-by": draw.pick(("platform-team", "sre", "gitops"))}
    with_labels = draw.chance(0.5)
    cr = cluster_role_obj(name, [g.rule() for g in grants], labels=labels if with_labels else None)
    probe = user(draw.probe_user())
    details = [f"allow {g.text()}" for g in grants]
    if with_labels:
        key, value = next(iter(labels.items()))
        details.append(f"label it {code(key + '=' + value)}")
    notes = [draw.pick(("Nothing more than that.", "No other permissions.", ""))]
    exps = [
        expect_object(cr, *([m("metadata.labels", "contains", labels)] if with_labels else [])),
        expect_permissions(
            probe,
            {"": [g.rule() for g in grants]},
            "the ClusterRole's rules grant exactly what was asked",
        ),
    ]
    tags = ["non-resource-url"] if any(g.urls for g in grants) else []
    return Draft(
        compose(draw, f"a ClusterRole {code(name)}", details, notes=[n for n in notes if n]),
        [cr],
        exps,
        ["ClusterRole"],
        [],
        setup=_probe_setup(draw, name),
        tags=tags,
    )


def _cluster_profile(draw: Draw) -> Profile:
    return draw.pick(cluster_profiles(lambda _kind: f"csr-{draw.app()}"))


def advanced_aggregated(draw: Draw) -> Draft:
    profile = _cluster_profile(draw)
    team = draw.team()
    parent = draw.cluster_name(lambda: f"{draw.team()}-{profile.role_stem}-aggregate")
    stem = parent.removesuffix("-aggregate")
    label = f"rbac.{draw.pools.api_group_domain}/aggregate-to-{stem}"
    selector = {label: "true"}
    split = max(1, len(profile.grants) // 2)
    parts = (
        [profile.grants[:split], profile.grants[split:]]
        if len(profile.grants) > 1
        else [profile.grants]
    )
    children = []
    for i, part in enumerate(parts):
        child = draw.cluster_name(lambda i=i: f"{parent.removesuffix('-aggregate')}-part-{i + 1}")
        children.append((child, part))
    parent_obj = cluster_role_obj(parent, None, aggregate_selector=selector)
    child_objs = [
        cluster_role_obj(c, [g.rule() for g in part], labels=selector) for c, part in children
    ]
    details = [
        draw.pick(
            (
                f"{code(parent)} must select every ClusterRole labelled {code(label + '=true')} "
                "through its aggregationRule and have no rules of its own",
                f"give {code(parent)} an aggregationRule matching the label {code(label)}: "
                f"{code('true')} (no rules of its own)",
            )
        )
    ]
    for c, part in children:
        grants = join_words([g.text() for g in part], "plus")
        details.append(f"add a ClusterRole {code(c)} carrying that label that grants {grants}")
    notes = []
    if profile.forbidden:
        notes.append(f"Holders of {code(parent)} must not be able to {profile.forbidden_text()}.")
    probe = user(draw.probe_user())
    exps = [
        expect_object(parent_obj, m("aggregationRule.clusterRoleSelectors", "exists")),
        *[expect_object(o, m("metadata.labels", "contains", selector)) for o in child_objs],
        expect_permissions(
            probe, {"": profile.rules()}, f"the aggregated role lets holders {profile.purpose}"
        ),
    ]
    if profile.forbidden:
        exps.append(
            expect_access(probe, [], profile.denied_checks(""), "what the prompt rules out")
        )
    context = draw.pick(
        (
            f"The {team} team wants one role other teams can extend by labels.",
            "We are switching to aggregated roles so add-ons can plug in.",
            "",
        )
    )
    prompt = compose(
        draw,
        f"an aggregated ClusterRole {code(parent)} to {profile.purpose}",
        details,
        context=context,
        keep_order=True,
        notes=notes,
    )
    return Draft(
        prompt,
        [parent_obj, *child_objs],
        exps,
        ["ClusterRole"],
        [],
        setup=_probe_setup(draw, parent),
        tags=["aggregation"],
    )


def advanced_least_privilege(draw: Draw) -> Draft:
    profile = _cluster_profile(draw)
    name = draw.cluster_name(
        lambda: draw.pick(
            (f"{draw.team()}-{profile.role_stem}", f"{profile.role_stem}-{draw.team()}")
        )
    )
    cr = cluster_role_obj(name, profile.rules())
    probe = user(draw.probe_user())
    details = [f"let its holders {profile.purpose}: {profile.grant_text()}"]
    notes = []
    if profile.forbidden:
        notes.append(
            draw.pick(
                (
                    f"Holders must not be able to {profile.forbidden_text()}.",
                    f"Make sure it does not allow them to {profile.forbidden_text()}.",
                )
            )
        )
    notes.append(draw.pick(("No wildcards.", "Keep it least-privilege.", "")))
    exps = [
        expect_object(cr),
        expect_permissions(probe, {"": profile.rules()}, f"least privilege for {profile.purpose}"),
    ]
    if profile.forbidden:
        exps.append(
            expect_access(probe, [], profile.denied_checks(""), "what the prompt rules out")
        )
    context = draw.pick(
        ("Replacing an over-broad role from an old Helm chart.", f"Needed by {draw.bot()}.", "")
    )
    return Draft(
        compose(
            draw,
            f"a ClusterRole {code(name)}",
            details,
            context=context,
            notes=[n for n in notes if n],
        ),
        [cr],
        exps,
        ["ClusterRole"],
        [],
        setup=_probe_setup(draw, name),
        tags=["least-privilege", f"profile:{profile.key}"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_single_rule],
    Tier.intermediate: [intermediate_multi_rule],
    Tier.advanced: [advanced_aggregated, advanced_least_privilege],
}
