"""Role scenarios: single-rule Roles, multi-rule Roles with subresources, named objects
and API groups, and least-privilege Role + RoleBinding setups proven by access reviews.

A Role alone grants nothing to anyone, so Role tasks bind it in setup to a probe user
and check its rules behaviourally: any rule layout that grants what was asked passes.
"""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    code,
    compose,
    expect_access,
    expect_object,
    expect_permissions,
    expect_subjects,
    group,
    m,
    namespace_obj,
    probe_binding,
    role_obj,
    service_account,
    service_account_obj,
    singular,
    user,
)
from kubebench.tasks.authoring.rbac_profiles import (
    ROLE_EXTRA_GRANTS,
    ROLE_GRANTS,
    Forbidden,
    Grant,
    Profile,
    namespaced_profiles,
)
from kubebench.tasks.schema import Subject, Tier


def _role_name(draw: Draw, stem: str) -> str:
    return draw.pick((stem, f"{stem}-role", f"{draw.team()}-{stem}"))


def basic_single_rule(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    g = draw.pick(ROLE_GRANTS)
    name = _role_name(draw, f"{singular(g.resource)}-access")
    role = role_obj(name, ns, [g.rule()])
    probe = user(draw.probe_user())
    what = draw.pick(
        (
            f"a Role named {code(name)} in {code(ns)}",
            f"Role {code(name)} in the {code(ns)} namespace",
        )
    )
    detail = draw.pick(
        (
            f"allow only {g.text()}",
            f"grant only {g.text()}",
            f"permit {g.text()} and nothing else",
        )
    )
    prompt = compose(draw, what, [detail])
    exps = [
        expect_object(role),
        expect_permissions(
            probe, {ns: [g.rule()]}, "the Role's rules grant exactly what was asked"
        ),
    ]
    return Draft(
        prompt,
        [role],
        exps,
        ["Role"],
        [ns],
        setup=[namespace_obj(ns), probe_binding(draw, "Role", name, ns)],
    )


def intermediate_multi_rule(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    first = draw.pick(ROLE_GRANTS)
    extras = [g for g in draw.sample(ROLE_EXTRA_GRANTS, 2) if g.resource != first.resource]
    grants = [first, *extras]
    if draw.chance(0.4) and all(g.resource != "configmaps" for g in grants):
        target = f"{draw.app()}-{draw.pick(('config', 'flags', 'routes'))}"
        grants.append(Grant(("get", "update"), "configmaps", names=(target,)))
    name = _role_name(draw, draw.pick(("ops", "oncall", "support", "release", "debug")))
    role = role_obj(name, ns, [g.rule() for g in grants])
    probe = user(draw.probe_user())
    details = [f"allow {g.text()}" for g in grants]
    notes = [
        draw.pick(
            (
                "Nothing beyond those permissions.",
                "No other verbs or resources.",
                "Keep it to exactly these permissions.",
            )
        )
    ]
    context = draw.pick(
        (
            f"The {team} on-call rotation needs a few extra permissions.",
            f"Debug access for the {team} team.",
            "",
        )
    )
    prompt = compose(
        draw, f"a Role {code(name)} in namespace {code(ns)}", details, notes=notes, context=context
    )
    exps = [
        expect_object(role),
        expect_permissions(
            probe, {ns: [g.rule() for g in grants]}, "the Role's rules grant exactly what was asked"
        ),
    ]
    return Draft(
        prompt,
        [role],
        exps,
        ["Role"],
        [ns],
        setup=[namespace_obj(ns), probe_binding(draw, "Role", name, ns)],
        tags=["subresource"] if any("/" in g.resource for g in grants) else [],
    )


def _subject_text(subject: Subject) -> str:
    if subject.kind == "ServiceAccount":
        return f"the ServiceAccount {code(subject.name)}"
    if subject.kind == "Group":
        return f"the group {code(subject.name)}"
    return f"the user {code(subject.name)}"


def _profile(draw: Draw) -> Profile:
    def name(kind: str) -> str:
        suffixes = {
            "secret": ("creds", "token", "api-key"),
            "configmap": ("settings", "flags"),
            "lease": ("leader", "lock"),
        }[kind]
        return f"{draw.app()}-{draw.pick(suffixes)}"

    return draw.pick(namespaced_profiles(name))


def profile_task(
    draw: Draw,
    *,
    subject: Subject,
    ns: str,
    create_sa: bool,
    role_name: str,
    binding_name: str,
    context: str,
    setup: list[dict],
    what: str,
    other_ns: str | None = None,
) -> Draft:
    """A least-privilege Role + RoleBinding (optionally the ServiceAccount too)."""
    profile = _profile(draw)
    role = role_obj(role_name, ns, profile.rules())
    rb = binding_obj("RoleBinding", binding_name, ns, "Role", role_name, [subject])
    objects = [role, rb]
    details = []
    if create_sa:
        sa = service_account_obj(subject.name, ns)
        objects.insert(0, sa)
        details.append(f"create the ServiceAccount {code(subject.name)} in {code(ns)}")
    details.append(f"add a Role {code(role_name)} granting {profile.grant_text()}")
    details.append(f"bind it to {_subject_text(subject)} with a RoleBinding {code(binding_name)}")
    denied = profile.denied_checks(ns)
    notes = []
    if profile.forbidden:
        notes.append(f"It must not be able to {profile.forbidden_text()}.")
    if other_ns:
        denied.append(profile.allowed_checks(other_ns)[0])
        notes.append(f"The access is for {code(ns)} only, not {code(other_ns)}.")
    exps = [
        expect_object(role),
        expect_object(
            rb, m("roleRef.kind", "equals", "Role"), m("roleRef.name", "equals", role_name)
        ),
        expect_permissions(
            subject, {ns: profile.rules()}, f"exactly the permissions to {profile.purpose}"
        ),
        expect_subjects([subject]),
    ]
    if denied:
        exps.append(expect_access(subject, [], denied, "what the prompt rules out"))
    if create_sa:
        exps.insert(0, expect_object(objects[0]))
    kinds = ["Role", "RoleBinding"] + (["ServiceAccount"] if create_sa else [])
    prompt = compose(draw, what, details, context=context, keep_order=True, notes=notes)
    return Draft(
        prompt,
        objects,
        exps,
        kinds,
        [ns],
        setup=setup,
        tags=["least-privilege", f"profile:{profile.key}"],
    )


def advanced_user_least_privilege(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    other = draw.namespace(team)
    subject = draw.pick((user(draw.person()), group(draw.group(team))))
    role_name = draw.pick((f"{team}-limited", f"{team}-operator", "restricted-operator"))
    who = _subject_text(subject)
    what = draw.pick(
        (
            f"tightly scoped access for {who} in {code(ns)}",
            f"a least-privilege Role and RoleBinding for {who} in namespace {code(ns)}",
        )
    )
    context = draw.pick(
        (
            f"Audit flagged that {team} engineers have edit everywhere.",
            f"The {team} team is moving off the shared admin role.",
            "",
        )
    )
    return profile_task(
        draw,
        subject=subject,
        ns=ns,
        create_sa=False,
        role_name=role_name,
        binding_name=f"{role_name}-binding",
        context=context,
        setup=[namespace_obj(ns), namespace_obj(other)],
        what=what,
        other_ns=other,
    )


def advanced_service_account(draw: Draw) -> Draft:
    bot = draw.bot()
    ns = draw.namespace()
    subject = service_account(bot, ns)
    role_name = f"{bot}-role"
    what = draw.pick(
        (
            f"RBAC for {code(bot)} in {code(ns)}",
            f"a ServiceAccount {code(bot)} with a minimal Role in {code(ns)}",
        )
    )
    context = draw.pick(
        (
            f"Our {code(bot)} job currently runs with cluster-admin; let's fix that.",
            f"Our {bot} automation needs its own identity.",
            "",
        )
    )
    return profile_task(
        draw,
        subject=subject,
        ns=ns,
        create_sa=True,
        role_name=role_name,
        binding_name=bot,
        context=context,
        setup=[namespace_obj(ns)],
        what=what,
    )


def advanced_cross_namespace(draw: Draw) -> Draft:
    bot = draw.bot()
    home = draw.namespace(draw.pick(("ci", "tooling", "automation", "platform-tools")))
    ns = draw.namespace()
    subject = service_account(bot, home)
    role_name = f"{bot}-access"
    what = (
        f"access for the existing ServiceAccount {code(bot)} from namespace {code(home)} "
        f"to work in {code(ns)}"
    )
    setup = [namespace_obj(home), namespace_obj(ns), service_account_obj(bot, home)]
    return profile_task(
        draw,
        subject=subject,
        ns=ns,
        create_sa=False,
        role_name=role_name,
        binding_name=f"{bot}-from-{home}",
        context="",
        setup=setup,
        what=what,
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_single_rule],
    Tier.intermediate: [intermediate_multi_rule],
    Tier.advanced: [
        advanced_user_least_privilege,
        advanced_service_account,
        advanced_cross_namespace,
    ],
}

__all__ = ["SCENARIOS", "Forbidden", "profile_task"]
