"""RoleBinding scenarios: binding an existing Role or a built-in ClusterRole, several
subjects across namespaces, and service identities bound in several namespaces."""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.data_files import load_data
from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    check,
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
    role_obj,
    service_account,
    service_account_obj,
    singular,
    user,
)
from kubebench.tasks.authoring.gen_role import _profile, _subject_text
from kubebench.tasks.authoring.rbac_profiles import ROLE_GRANTS
from kubebench.tasks.schema import AccessCheck, Subject, Tier

# What a built-in ClusterRole surely allows, for behavioural checks of a binding.
BUILTIN_PROBES = load_data(
    "rbac.yaml", dict[str, tuple[tuple[str, str, str], ...]], "builtin_role_probes"
)


def _builtin_checks(role: str, ns: str) -> list[AccessCheck]:
    return [check(v, r, group=g, ns=ns) for v, r, g in BUILTIN_PROBES[role]]


def _binding_exps(rb: dict, role_kind: str, role_name: str) -> list:
    return [
        expect_object(
            rb, m("roleRef.kind", "equals", role_kind), m("roleRef.name", "equals", role_name)
        )
    ]


def basic_existing_role(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    g = draw.pick(ROLE_GRANTS)
    role_name = f"{singular(g.resource)}-{draw.pick(('reader', 'access', 'viewer'))}"
    role = role_obj(role_name, ns, [g.rule()])
    who = draw.person()
    rb_name = draw.pick(
        (
            f"{role_name}-{who.split('@')[0].replace('.', '-')}",
            f"{team}-{role_name}",
            f"{role_name}-binding",
        )
    )
    rb = binding_obj("RoleBinding", rb_name, ns, "Role", role_name, [user(who)])
    what = draw.pick(
        (
            f"a RoleBinding {code(rb_name)} in {code(ns)}",
            f"RoleBinding {code(rb_name)} (namespace {code(ns)})",
        )
    )
    details = [f"bind the existing Role {code(role_name)} to the user {code(who)}"]
    exps = [
        *_binding_exps(rb, "Role", role_name),
        expect_permissions(user(who), {ns: [g.rule()]}, "the user gets the Role's access"),
        expect_subjects([user(who)]),
    ]
    return Draft(
        compose(draw, what, details),
        [rb],
        exps,
        ["RoleBinding"],
        [ns],
        setup=[namespace_obj(ns), role],
        tags=["existing-role"],
    )


def basic_builtin_clusterrole(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    role = draw.pick(("view", "edit", "admin"))
    subject = draw.pick((user(draw.person()), group(draw.group(team))))
    rb_name = f"{team}-{role}"
    rb = binding_obj("RoleBinding", rb_name, ns, "ClusterRole", role, [subject])
    details = [
        f"grant {_subject_text(subject)} the built-in {code(role)} ClusterRole",
        f"name the RoleBinding {code(rb_name)}",
    ]
    notes = [
        draw.pick(
            (
                f"Only within {code(ns)}, not cluster-wide.",
                "The access must stay inside that namespace.",
            )
        )
    ]
    exps = [
        *_binding_exps(rb, "ClusterRole", role),
        expect_access(
            subject,
            _builtin_checks(role, ns),
            [_builtin_checks(role, "kube-system")[0], _builtin_checks(role, "")[0]],
            "namespace-scoped grant",
        ),
        expect_subjects([subject]),
    ]
    return Draft(
        compose(draw, f"{code(role)} access in {code(ns)}", details, notes=notes),
        [rb],
        exps,
        ["RoleBinding"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["builtin-role"],
    )


def intermediate_many_subjects(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    other = draw.namespace(draw.pick(("ci", "tooling", "build", "automation")))
    g = draw.pick(ROLE_GRANTS)
    cr_name = draw.cluster_name(
        lambda: f"{draw.team()}-{singular(g.resource)}-{draw.pick(('access', 'reader', 'ops'))}"
    )
    cr = cluster_role_obj(cr_name, [g.rule()])
    bot = draw.bot()
    subjects: list[Subject] = [
        user(draw.person()),
        group(draw.group(team)),
        service_account(bot, other),
    ]
    draw.rng.shuffle(subjects)
    rb_name = f"{cr_name}-{draw.pick(('bindings', 'grant', 'access'))}"
    rb = binding_obj("RoleBinding", rb_name, ns, "ClusterRole", cr_name, subjects)
    subj_text = join_words(
        [
            _subject_text(s)
            + (f" from namespace {code(s.namespace or '')}" if s.kind == "ServiceAccount" else "")
            for s in subjects
        ]
    )
    details = [
        f"reference the existing ClusterRole {code(cr_name)}",
        f"bind these subjects: {subj_text}",
    ]
    notes = [f"The grant applies in {code(ns)} only."]
    exps = [*_binding_exps(rb, "ClusterRole", cr_name)]
    exps += [expect_permissions(s, {ns: [g.rule()]}) for s in subjects]
    exps.append(expect_subjects(subjects))
    what = f"a RoleBinding {code(rb_name)} in {code(ns)}"
    return Draft(
        compose(draw, what, details, notes=notes),
        [rb],
        exps,
        ["RoleBinding"],
        [ns],
        setup=[namespace_obj(ns), namespace_obj(other), service_account_obj(bot, other), cr],
        tags=["cross-namespace-subject"],
    )


def intermediate_team_edit(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    grp = draw.group(team)
    bot = draw.bot()
    readers = draw.group(team, ("readers", "auditors", "viewers", "stakeholders"))
    edit = binding_obj(
        "RoleBinding",
        f"{team}-edit",
        ns,
        "ClusterRole",
        "edit",
        [group(grp), service_account(bot, ns)],
    )
    view = binding_obj("RoleBinding", f"{team}-view", ns, "ClusterRole", "view", [group(readers)])
    details = [
        f"RoleBinding {code(team + '-edit')}: built-in ClusterRole {code('edit')} for "
        f"group {code(grp)} and ServiceAccount {code(bot)} (same namespace)",
        f"RoleBinding {code(team + '-view')}: built-in ClusterRole {code('view')} for "
        f"group {code(readers)}",
    ]
    notes = [f"{code(readers)} must stay read-only."]
    exps = [
        *_binding_exps(edit, "ClusterRole", "edit"),
        *_binding_exps(view, "ClusterRole", "view"),
        expect_access(group(grp), _builtin_checks("edit", ns), []),
        expect_access(service_account(bot, ns), _builtin_checks("edit", ns), []),
        expect_access(group(readers), _builtin_checks("view", ns), _builtin_checks("edit", ns)),
        expect_subjects([group(grp), service_account(bot, ns), group(readers)]),
    ]
    what = draw.pick((f"two RoleBindings in {code(ns)}", f"the {team} team's access in {code(ns)}"))
    details = [f"add {d}" for d in details]
    return Draft(
        compose(draw, what, details, notes=notes),
        [edit, view],
        exps,
        ["RoleBinding"],
        [ns],
        setup=[namespace_obj(ns), service_account_obj(bot, ns)],
        tags=["builtin-role"],
    )


def advanced_multi_namespace_deployer(draw: Draw) -> Draft:
    bot = draw.pick(("deployer", "release-bot", "gitops-sync", "argo-deployer", draw.bot()))
    home = draw.namespace(draw.pick(("ci", "delivery", "release")))
    targets = [draw.namespace(), draw.namespace()]
    outside = draw.namespace()
    cr_name = draw.cluster_name(lambda: f"{draw.team()}-workload-deployer")
    rules = [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "create", "update", "patch"],
        },
        {
            "apiGroups": [""],
            "resources": ["services", "configmaps"],
            "verbs": ["get", "list", "create", "update", "patch"],
        },
    ]
    cr = cluster_role_obj(cr_name, rules)
    sa = service_account_obj(bot, home)
    subject = service_account(bot, home)
    rbs = [
        binding_obj("RoleBinding", f"{bot}-deploy", t, "ClusterRole", cr_name, [subject])
        for t in targets
    ]
    details = [
        f"create ServiceAccount {code(bot)} in {code(home)}",
        f"let it use the existing ClusterRole {code(cr_name)} in {code(targets[0])} and "
        f"{code(targets[1])} via RoleBindings called {code(bot + '-deploy')}",
    ]
    notes = [f"No access in {code(outside)}, in {code(home)} itself, or cluster-wide."]
    denied = [
        check("create", "deployments", group="apps", ns=outside),
        check("create", "deployments", group="apps", ns=home),
        check("list", "deployments", group="apps", ns=""),
    ]
    exps = [
        expect_object(sa),
        *[e for rb in rbs for e in _binding_exps(rb, "ClusterRole", cr_name)],
        expect_permissions(
            subject, {t: rules for t in targets}, "deploys only into the two namespaces"
        ),
        expect_subjects([subject]),
        expect_access(subject, [], denied, "no access where the prompt rules it out"),
    ]
    context = draw.pick(
        (
            "Our CD pipeline deploys into two namespaces.",
            "Replacing the cluster-admin kubeconfig in CI.",
            "",
        )
    )
    prompt = compose(
        draw,
        f"a deploy identity {code(bot)}",
        details,
        context=context,
        keep_order=True,
        notes=notes,
    )
    return Draft(
        prompt,
        [sa, *rbs],
        exps,
        ["ServiceAccount", "RoleBinding"],
        [home, *targets],
        setup=[*(namespace_obj(n) for n in (home, *targets)), cr],
        tags=["multi-namespace", "least-privilege"],
    )


def advanced_scoped_grant(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    profile = _profile(draw)
    role_name = f"{team}-{profile.role_stem}"
    role = role_obj(role_name, ns, profile.rules())
    alice, outsider = user(draw.person()), user(draw.person())
    bot = draw.bot()
    subjects = [alice, service_account(bot, ns)]
    rb_name = f"{role_name}-members"
    rb = binding_obj("RoleBinding", rb_name, ns, "Role", role_name, subjects)
    details = [
        f"bind the existing Role {code(role_name)} (it grants {profile.grant_text()}) "
        f"to the user {code(alice.name)} and the ServiceAccount "
        f"{code(bot)}",
        f"call the binding {code(rb_name)}",
    ]
    notes = [f"{code(outsider.name)} must not get this access."]
    exps = [
        *_binding_exps(rb, "Role", role_name),
        expect_permissions(alice, {ns: profile.rules()}),
        expect_permissions(service_account(bot, ns), {ns: profile.rules()}),
        expect_subjects(subjects),
        expect_access(outsider, [], profile.allowed_checks(ns)[:1]),
    ]
    if profile.forbidden:
        exps.append(expect_access(alice, [], profile.denied_checks(ns)))
    prompt = compose(draw, f"a RoleBinding in {code(ns)}", details, notes=notes)
    return Draft(
        prompt,
        [rb],
        exps,
        ["RoleBinding"],
        [ns],
        setup=[namespace_obj(ns), role, service_account_obj(bot, ns)],
        tags=["existing-role"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_existing_role, basic_builtin_clusterrole],
    Tier.intermediate: [intermediate_many_subjects, intermediate_team_edit],
    Tier.advanced: [advanced_multi_namespace_deployer, advanced_scoped_grant],
}
