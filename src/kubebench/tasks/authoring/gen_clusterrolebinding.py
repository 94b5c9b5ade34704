"""ClusterRoleBinding scenarios: cluster-wide grants of built-in or existing roles,
several subjects, and least-privilege ClusterRole + binding setups."""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    cluster_role_obj,
    code,
    compose,
    expect_access,
    expect_object,
    expect_permissions,
    expect_subjects,
    group,
    join_words,
    m,
    namespace_obj,
    service_account,
    service_account_obj,
    singular,
    user,
)
from kubebench.tasks.authoring.gen_clusterrole import _cluster_profile
from kubebench.tasks.authoring.gen_role import _subject_text
from kubebench.tasks.authoring.gen_rolebinding import _builtin_checks
from kubebench.tasks.authoring.rbac_profiles import CLUSTER_GRANTS
from kubebench.tasks.schema import Subject, Tier


def _exps(crb: dict, role: str) -> list:
    return [
        expect_object(
            crb, m("roleRef.kind", "equals", "ClusterRole"), m("roleRef.name", "equals", role)
        )
    ]


def _crb_name(draw: Draw, stem: str) -> str:
    return draw.cluster_name(lambda: draw.pick((stem, f"{stem}-binding")))


def basic_builtin(draw: Draw) -> Draft:
    role = draw.pick(("view", "view", "edit"))
    team = draw.team()
    subject = draw.pick((user(draw.person()), group(draw.group(team))))
    name = _crb_name(draw, f"{team}-{role}-all")
    crb = binding_obj("ClusterRoleBinding", name, None, "ClusterRole", role, [subject])
    details = [
        f"give {_subject_text(subject)} the built-in {code(role)} ClusterRole in every namespace"
    ]
    if draw.chance(0.5):
        what = f"a ClusterRoleBinding {code(name)}"
    else:
        what = f"cluster-wide {code(role)} access"
        details.append(f"name the binding {code(name)}")
    checks = _builtin_checks(role, "")
    exps = [
        *_exps(crb, role),
        expect_access(subject, checks, [], "granted in all namespaces"),
        expect_subjects([subject]),
    ]
    return Draft(
        compose(draw, what, details), [crb], exps, ["ClusterRoleBinding"], [], tags=["builtin-role"]
    )


def basic_existing_role(draw: Draw) -> Draft:
    g = draw.pick(CLUSTER_GRANTS)
    role = draw.cluster_name(lambda: f"{draw.team()}-{singular(g.resource)}-reader")
    cr = cluster_role_obj(role, [g.rule()])
    subject = draw.pick((user(draw.person()), group(draw.group())))
    name = _crb_name(draw, f"{role}-{draw.pick(('grant', 'members'))}")
    crb = binding_obj("ClusterRoleBinding", name, None, "ClusterRole", role, [subject])
    details = [f"bind the existing ClusterRole {code(role)} to {_subject_text(subject)}"]
    exps = [
        *_exps(crb, role),
        expect_permissions(subject, {"": [g.rule()]}),
        expect_subjects([subject]),
    ]
    return Draft(
        compose(draw, f"a ClusterRoleBinding named {code(name)}", details),
        [crb],
        exps,
        ["ClusterRoleBinding"],
        [],
        setup=[cr],
        tags=["existing-role"],
    )


def intermediate_many_subjects(draw: Draw) -> Draft:
    g = draw.pick(CLUSTER_GRANTS)
    role = draw.cluster_name(lambda: f"{draw.app()}-{singular(g.resource)}-access")
    cr = cluster_role_obj(role, [g.rule()])
    bot = draw.bot()
    sa_ns = draw.namespace(draw.pick(("monitoring", "ops", "tools", "infra")))
    subjects: list[Subject] = [
        service_account(bot, sa_ns),
        group(draw.group()),
        user(draw.person()),
    ]
    draw.rng.shuffle(subjects)
    name = _crb_name(draw, role)
    crb = binding_obj("ClusterRoleBinding", name, None, "ClusterRole", role, subjects)
    texts = [
        _subject_text(s)
        + (f" (namespace {code(s.namespace or '')})" if s.kind == "ServiceAccount" else "")
        for s in subjects
    ]
    details = [
        f"point its roleRef at the existing ClusterRole {code(role)}",
        f"bind these subjects: {join_words(texts)}",
    ]
    exps = [
        *_exps(crb, role),
        *[expect_permissions(s, {"": [g.rule()]}) for s in subjects],
        expect_subjects(subjects),
    ]
    return Draft(
        compose(draw, f"a ClusterRoleBinding {code(name)}", details, keep_order=True),
        [crb],
        exps,
        ["ClusterRoleBinding"],
        [],
        setup=[cr, namespace_obj(sa_ns), service_account_obj(bot, sa_ns)],
        tags=["multi-subject"],
    )


def intermediate_builtin_pair(draw: Draw) -> Draft:
    team = draw.team()
    admins = group(draw.group(team, ("leads", "admins", "maintainers")))
    auditors = group(draw.group(team, ("auditors", "readers", "viewers")))
    view_name = _crb_name(draw, f"{team}-auditors-view")
    edit_name = _crb_name(draw, f"{team}-leads-edit")
    view = binding_obj("ClusterRoleBinding", view_name, None, "ClusterRole", "view", [auditors])
    edit = binding_obj("ClusterRoleBinding", edit_name, None, "ClusterRole", "edit", [admins])
    details = [
        f"{code(view_name)} binding the built-in {code('view')} ClusterRole to the group "
        f"{code(auditors.name)}",
        f"{code(edit_name)} binding the built-in {code('edit')} ClusterRole to the group "
        f"{code(admins.name)}",
    ]
    details = [f"create {d}" for d in details]
    notes = [f"{code(auditors.name)} must not be able to modify anything."]
    exps = [
        *_exps(view, "view"),
        *_exps(edit, "edit"),
        expect_access(auditors, _builtin_checks("view", ""), _builtin_checks("edit", "")),
        expect_access(admins, _builtin_checks("edit", ""), []),
        expect_subjects([auditors, admins]),
    ]
    return Draft(
        compose(draw, "two ClusterRoleBindings", details, notes=notes),
        [view, edit],
        exps,
        ["ClusterRoleBinding"],
        [],
        tags=["builtin-role"],
    )


def advanced_service_account(draw: Draw) -> Draft:
    profile = _cluster_profile(draw)
    bot = draw.bot()
    ns = draw.namespace(draw.pick(("kube-ops", "platform", "monitoring", "security")))
    role = draw.cluster_name(lambda: f"{bot}-{profile.role_stem}")
    cr = cluster_role_obj(role, profile.rules())
    sa = service_account_obj(bot, ns)
    subject = service_account(bot, ns)
    crb = binding_obj("ClusterRoleBinding", role, None, "ClusterRole", role, [subject])
    details = [
        f"create ServiceAccount {code(bot)} in {code(ns)}",
        f"create a ClusterRole {code(role)} that grants {profile.grant_text()}",
        f"bind it to the ServiceAccount cluster-wide with a ClusterRoleBinding also named "
        f"{code(role)}",
    ]
    notes = (
        [f"{code(bot)} must not be able to {profile.forbidden_text()}."]
        if profile.forbidden
        else []
    )
    exps = [
        expect_object(sa),
        expect_object(cr),
        *_exps(crb, role),
        expect_permissions(
            subject, {"": profile.rules()}, f"least privilege for {profile.purpose}"
        ),
        expect_subjects([subject]),
    ]
    if profile.forbidden:
        exps.append(
            expect_access(subject, [], profile.denied_checks(""), "what the prompt rules out")
        )
    context = draw.pick((f"Our {code(bot)} job needs to {profile.purpose} across the cluster.", ""))
    return Draft(
        compose(
            draw,
            f"cluster-wide RBAC for {code(bot)}",
            details,
            context=context,
            keep_order=True,
            notes=notes,
        ),
        [sa, cr, crb],
        exps,
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["least-privilege", f"profile:{profile.key}"],
    )


def advanced_group_grant(draw: Draw) -> Draft:
    profile = _cluster_profile(draw)
    team = draw.team()
    grp = group(draw.group(team))
    outsider = user(draw.person())
    role = draw.cluster_name(lambda: f"{team}-{profile.role_stem}")
    cr = cluster_role_obj(role, profile.rules())
    name = draw.cluster_name(lambda: f"{role}-{draw.pick(('group', 'team', 'members'))}")
    crb = binding_obj("ClusterRoleBinding", name, None, "ClusterRole", role, [grp])
    details = [
        f"a ClusterRole {code(role)} with exactly: {profile.grant_text()}",
        f"a ClusterRoleBinding {code(name)} granting it to the group {code(grp.name)}",
    ]
    details = [f"add {d}" for d in details]
    notes = []
    if profile.forbidden:
        notes.append(f"Members must not be able to {profile.forbidden_text()}.")
    notes.append(f"Only that group, not individual users such as {code(outsider.name)}.")
    exps = [
        expect_object(cr),
        *_exps(crb, role),
        expect_permissions(grp, {"": profile.rules()}),
        expect_subjects([grp]),
        expect_access(outsider, [], profile.allowed_checks("")[:1]),
    ]
    if profile.forbidden:
        exps.append(expect_access(grp, [], profile.denied_checks("")))
    context = draw.pick((f"The {team} team needs to {profile.purpose}.", ""))
    return Draft(
        compose(
            draw,
            f"a cluster-wide grant for {code(grp.name)}",
            details,
            context=context,
            keep_order=True,
            notes=notes,
        ),
        [cr, crb],
        exps,
        ["ClusterRole", "ClusterRoleBinding"],
        [],
        tags=["least-privilege", f"profile:{profile.key}"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_builtin, basic_existing_role],
    Tier.intermediate: [intermediate_many_subjects, intermediate_builtin_pair],
    Tier.advanced: [advanced_service_account, advanced_group_grant],
}
