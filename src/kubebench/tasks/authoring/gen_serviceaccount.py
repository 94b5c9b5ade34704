"""ServiceAccount scenarios: plain and labelled accounts, accounts with token automount
off, cloud identity annotations and pull secrets, and accounts with proven RBAC."""

from __future__ import annotations

import json
from collections.abc import Callable

from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    check,
    code,
    compose,
    expect_access,
    expect_object,
    expect_subjects,
    m,
    namespace_obj,
    secret_obj,
    service_account,
    service_account_obj,
)
from kubebench.tasks.authoring.gen_role import profile_task
from kubebench.tasks.schema import Tier


def _where(draw: Draw, name: str, ns: str) -> str:
    return draw.pick(
        (
            f"a ServiceAccount named {code(name)} in {code(ns)}",
            f"ServiceAccount {code(name)} in the {code(ns)} namespace",
            f"a service account {code(name)} (namespace {code(ns)})",
        )
    )


def basic_plain(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = draw.pick((app, f"{app}-sa", draw.bot()))
    sa = service_account_obj(name, ns)
    context = draw.pick(
        (f"The {code(app)} service should stop running as the default account.", "", "")
    )
    return Draft(
        compose(draw, _where(draw, name, ns), [], context=context),
        [sa],
        [expect_object(sa)],
        ["ServiceAccount"],
        [ns],
        setup=[namespace_obj(ns)],
    )


def basic_labelled(draw: Draw) -> Draft:
    app, team = draw.app(), draw.team()
    ns = draw.namespace(team)
    name = f"{app}-{draw.pick(('runtime', 'worker', 'api'))}"
    labels = {draw.pick(("app", "app.kubernetes.io/name")): app}
    if draw.chance(0.5):
        labels["team"] = team
    sa = service_account_obj(name, ns, labels=labels)
    details = ["label it " + " and ".join(code(k + "=" + v) for k, v in labels.items())]
    return Draft(
        compose(draw, _where(draw, name, ns), details),
        [sa],
        [expect_object(sa, m("metadata.labels", "contains", labels))],
        ["ServiceAccount"],
        [ns],
        setup=[namespace_obj(ns)],
    )


def _cloud_annotation(draw: Draw, app: str) -> tuple[str, str]:
    if draw.chance(0.5):
        account = "".join(str(draw.rng.randrange(10)) for _ in range(12))
        return "eks.amazonaws.com/role-arn", f"arn:aws:iam::{account}:role/{app}-irsa"
    project = f"{draw.team()}-{draw.pick(('prod', 'shared', 'core'))}"
    return "iam.gke.io/gcp-service-account", f"{app}@{project}.iam.gserviceaccount.com"


def intermediate_workload_identity(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = f"{app}-{draw.pick(('sa', 'identity', 'workload'))}"
    key, value = _cloud_annotation(draw, app)
    sa = service_account_obj(name, ns, annotations={key: value}, automountServiceAccountToken=False)
    details = [
        f"annotate it with {code(key)}: {code(value)}",
        draw.pick(
            (
                "disable automatic mounting of the API token",
                f"set {code('automountServiceAccountToken')} to false",
            )
        ),
    ]
    context = draw.pick(
        (f"The {code(app)} service talks to cloud storage through workload identity.", "")
    )
    return Draft(
        compose(draw, _where(draw, name, ns), details, context=context),
        [sa],
        [
            expect_object(
                sa,
                m("metadata.annotations", "contains", {key: value}),
                m("automountServiceAccountToken", "equals", False),
            )
        ],
        ["ServiceAccount"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["workload-identity"],
    )


def intermediate_pull_secrets(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = f"{app}-{draw.pick(('builder', 'runner', 'deploy'))}"
    registries = draw.sample(draw.pools.registries, draw.pick((1, 2)))
    secrets = [f"{r.split('.')[0]}-pull" for r in registries]
    setup = [namespace_obj(ns)] + [
        secret_obj(
            s,
            ns,
            {".dockerconfigjson": json.dumps({"auths": {r: {"auth": "dXNlcjpwYXNz"}}})},
            type_="kubernetes.io/dockerconfigjson",
        )
        for s, r in zip(secrets, registries, strict=True)
    ]
    labels = {"app.kubernetes.io/name": app}
    sa = service_account_obj(
        name,
        ns,
        labels=labels,
        imagePullSecrets=[{"name": s} for s in secrets],
        automountServiceAccountToken=False,
    )
    names = " and ".join(code(s) for s in secrets)
    details = [
        f"reference the existing {'pull secrets' if len(secrets) > 1 else 'pull secret'} "
        f"{names} as image pull secrets",
        f"label it {code('app.kubernetes.io/name=' + app)}",
        "opt out of API token automounting",
    ]
    exps = [
        expect_object(
            sa,
            m("imagePullSecrets", "superset", [{"name": s} for s in secrets]),
            m("metadata.labels", "contains", labels),
            m("automountServiceAccountToken", "equals", False),
        )
    ]
    return Draft(
        compose(draw, _where(draw, name, ns), details),
        [sa],
        exps,
        ["ServiceAccount"],
        [ns],
        setup=setup,
        tags=["registry"],
    )


def advanced_with_role(draw: Draw) -> Draft:
    bot = draw.bot()
    ns = draw.namespace()
    subject = service_account(bot, ns)
    what = draw.pick(
        (
            f"an identity for {code(bot)} in {code(ns)} with only the access it needs",
            f"ServiceAccount {code(bot)} plus RBAC in namespace {code(ns)}",
        )
    )
    context = draw.pick((f"The {bot} automation is new.", "Security review follow-up.", ""))
    return profile_task(
        draw,
        subject=subject,
        ns=ns,
        create_sa=True,
        role_name=f"{bot}-perms",
        binding_name=f"{bot}-perms",
        context=context,
        setup=[namespace_obj(ns)],
        what=what,
    )


def advanced_multi_namespace_view(draw: Draw) -> Draft:
    team = draw.team()
    home = draw.namespace(draw.pick(("monitoring", "observability", "tools", "ops")))
    name = draw.pick(("dashboard-reader", "status-page", "inventory-exporter", "cost-reporter"))
    targets = [draw.namespace(), draw.namespace()]
    outside = draw.namespace()
    sa = service_account_obj(name, home)
    subject = service_account(name, home)
    rbs = [
        binding_obj("RoleBinding", f"{name}-view", t, "ClusterRole", "view", [subject])
        for t in targets
    ]
    details = [
        f"create ServiceAccount {code(name)} in {code(home)}",
        f"give it the built-in {code('view')} ClusterRole in {code(targets[0])} and "
        f"{code(targets[1])} through RoleBindings named {code(name + '-view')}",
    ]
    notes = [f"It must not get any access in {code(outside)} or cluster-wide."]
    allowed = [check(v, "pods", ns=t) for t in targets for v in ("get", "list")]
    allowed += [check("list", "deployments", group="apps", ns=t) for t in targets]
    denied = [check("get", "pods", ns=outside), check("list", "pods", ns="")]
    exps = [expect_object(sa)]
    exps += [
        expect_object(
            rb, m("roleRef.kind", "equals", "ClusterRole"), m("roleRef.name", "equals", "view")
        )
        for rb in rbs
    ]
    exps.append(expect_access(subject, allowed, denied, "read-only in the two namespaces only"))
    exps.append(expect_subjects([subject]))
    context = draw.pick((f"The {team} dashboards need to read workloads of two teams.", ""))
    prompt = compose(
        draw,
        f"a read-only service identity {code(name)}",
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
        setup=[namespace_obj(n) for n in (home, *targets)],
        tags=["multi-namespace"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_plain, basic_labelled],
    Tier.intermediate: [intermediate_workload_identity, intermediate_pull_secrets],
    Tier.advanced: [advanced_with_role, advanced_multi_namespace_view],
}
