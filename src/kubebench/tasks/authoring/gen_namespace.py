"""Namespace scenarios: plain namespaces, labelled ones, Pod Security Admission levels,
and team namespaces with ResourceQuota and LimitRange."""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    code,
    compose,
    expect_object,
    join_words,
    m,
    meta,
    namespace_obj,
)
from kubebench.tasks.schema import Tier

PSA = "pod-security.kubernetes.io"


def _ns_phrase(draw: Draw, ns: str) -> str:
    return draw.pick(
        (
            f"a namespace called {code(ns)}",
            f"a new namespace {code(ns)}",
            f"the {code(ns)} namespace",
            f"namespace {code(ns)}",
        )
    )


def basic_plain(draw: Draw) -> Draft:
    team, app = draw.team(), draw.app()
    if draw.chance(0.5):
        ns = draw.namespace(team)
        context = draw.pick((f"The {team} team is onboarding.", "", ""))
    else:
        ns = draw.namespace(app)
        context = draw.pick((f"The {code(app)} service is getting its own environment.", "", ""))
    obj = namespace_obj(ns)
    return Draft(
        compose(draw, _ns_phrase(draw, ns), [], context=context),
        [obj],
        [expect_object(obj)],
        ["Namespace"],
        [],
    )


def basic_labelled(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    key, value = draw.pick(
        (
            ("team", team),
            ("owner", team),
            ("cost-center", f"cc-{draw.rng.randrange(1000, 9999)}"),
            ("environment", ns.rsplit("-", 1)[-1]),
        )
    )
    obj = namespace_obj(ns, labels={key: value})
    detail = draw.pick(
        (
            f"label it {code(f'{key}={value}')}",
            f"give it the label {code(key)} set to {code(value)}",
            f"add a {code(key)} label with value {code(value)}",
        )
    )
    return Draft(
        compose(draw, _ns_phrase(draw, ns), [detail]),
        [obj],
        [expect_object(obj, m("metadata.labels", "contains", {key: value}))],
        ["Namespace"],
        [],
    )


def basic_annotated(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    contact = f"{team}@{draw.pick(draw.pools.domains)}"
    key = draw.pick(("owner", "contact", "team-email"))
    obj = namespace_obj(ns, annotations={key: contact})
    detail = draw.pick(
        (
            f"annotate it with {code(key)}: {code(contact)}",
            f"put an annotation {code(key)} = {code(contact)} on it",
        )
    )
    return Draft(
        compose(draw, _ns_phrase(draw, ns), [detail]),
        [obj],
        [expect_object(obj, m("metadata.annotations", "contains", {key: contact}))],
        ["Namespace"],
        [],
    )


def intermediate_metadata(draw: Draw) -> Draft:
    team, app = draw.team(), draw.app()
    ns = draw.namespace(app)
    env = ns.rsplit("-", 1)[-1]
    labels = {"team": team, "environment": env, "app.kubernetes.io/part-of": app}
    if draw.chance(0.5):
        labels["istio-injection"] = draw.pick(("enabled", "disabled"))
    annotations = {"owner": f"{team}@{draw.pick(draw.pools.domains)}"}
    if draw.chance(0.5):
        annotations["description"] = draw.pick(
            (f"{env} environment for {app}", f"Workloads of the {team} team")
        )
    obj = namespace_obj(ns, labels, annotations)
    details = [f"label {code(k)} = {code(v)}" for k, v in labels.items()]
    details += [f"annotation {code(k)} = {code(v)}" for k, v in annotations.items()]
    if draw.chance(0.5):
        details = [f"add the {d}" for d in details]
    else:
        details = [f"set the {d}" for d in details]
    return Draft(
        compose(draw, _ns_phrase(draw, ns), details),
        [obj],
        [
            expect_object(
                obj,
                m("metadata.labels", "contains", labels),
                m("metadata.annotations", "contains", annotations),
            )
        ],
        ["Namespace"],
        [],
    )


def intermediate_pod_security(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    enforce = draw.pick(("baseline", "restricted", "privileged"))
    warn = draw.pick(("restricted", "baseline")) if enforce != "restricted" else "restricted"
    labels = {f"{PSA}/enforce": enforce, f"{PSA}/warn": warn}
    details = [
        f"enforce the {code(enforce)} Pod Security Standard ({code(PSA + '/enforce')})",
        f"warn on {code(warn)} violations ({code(PSA + '/warn')})",
    ]
    if draw.chance(0.5):
        audit = draw.pick(("restricted", "baseline"))
        labels[f"{PSA}/audit"] = audit
        details.append(f"audit at the {code(audit)} level ({code(PSA + '/audit')})")
    if draw.chance(0.5):
        version = draw.pick(("latest", "v1.30", "v1.31"))
        labels[f"{PSA}/enforce-version"] = version
        details.append(
            f"pin the enforce version to {code(version)} ({code(PSA + '/enforce-version')})"
        )
    labels["team"] = team
    details.append(f"also label it {code('team=' + team)}")
    obj = namespace_obj(ns, labels)
    context = draw.pick(
        (
            "Security wants Pod Security Admission on every new namespace.",
            f"The {team} team is moving workloads off the shared namespace.",
            "",
        )
    )
    return Draft(
        compose(draw, _ns_phrase(draw, ns), details, context=context),
        [obj],
        [expect_object(obj, m("metadata.labels", "contains", labels))],
        ["Namespace"],
        [],
        tags=["pod-security"],
    )


def _quota(draw: Draw, ns: str) -> tuple[dict[str, object], dict[str, str], str]:
    cpu = draw.pick(("2", "4", "8", "16", "6"))
    mem = draw.pick(("4Gi", "8Gi", "16Gi", "32Gi", "12Gi"))
    hard = {"requests.cpu": cpu, "requests.memory": mem}
    if draw.chance(0.6):
        hard["limits.cpu"] = str(int(cpu) * 2)
        hard["limits.memory"] = f"{int(mem[:-2]) * 2}Gi"
    if draw.chance(0.6):
        hard["pods"] = draw.pick(("10", "20", "30", "50", "100"))
    if draw.chance(0.4):
        hard[draw.pick(("configmaps", "secrets", "services", "persistentvolumeclaims"))] = (
            draw.pick(("10", "15", "25", "40"))
        )
    name = draw.pick(("compute-quota", "team-quota", "resource-quota", f"{ns}-quota", "quota"))
    obj = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta(name, ns),
        "spec": {"hard": hard},
    }
    text = join_words([f"{code(k)}: {v}" for k, v in hard.items()])
    return obj, hard, f"a ResourceQuota named {code(name)} with hard limits {text}"


def _limit_range(draw: Draw, ns: str) -> tuple[dict[str, object], dict[str, dict[str, str]], str]:
    req_cpu = draw.pick(("100m", "250m", "200m", "50m"))
    req_mem = draw.pick(("128Mi", "256Mi", "64Mi"))
    lim_cpu = draw.pick(("500m", "1", "750m"))
    lim_mem = draw.pick(("512Mi", "1Gi", "768Mi"))
    item = {
        "type": "Container",
        "default": {"cpu": lim_cpu, "memory": lim_mem},
        "defaultRequest": {"cpu": req_cpu, "memory": req_mem},
    }
    name = draw.pick(("container-defaults", "default-limits", "limits", "container-limits"))
    obj = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta(name, ns),
        "spec": {"limits": [item]},
    }
    text = (
        f"a LimitRange {code(name)} giving containers default requests of cpu {req_cpu} / "
        f"memory {req_mem} and default limits of cpu {lim_cpu} / memory {lim_mem}"
    )
    return obj, item, text


def advanced_team_namespace(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    level = draw.pick(("restricted", "baseline"))
    labels = {f"{PSA}/enforce": level, "team": team}
    if draw.chance(0.5):
        labels[f"{PSA}/warn"] = "restricted"
    ns_obj = namespace_obj(ns, labels)
    quota, hard, quota_text = _quota(draw, ns)
    objects = [ns_obj, quota]
    psa_text = join_words([f"{code(k)}={code(v)}" for k, v in labels.items()])
    details = [f"label the namespace {psa_text}", f"add {quota_text}"]
    exps = [
        expect_object(ns_obj, m("metadata.labels", "contains", labels)),
        expect_object(quota, m("spec.hard", "quantities", hard)),
    ]
    kinds = ["Namespace", "ResourceQuota"]
    if draw.chance(0.75):
        lr, item, lr_text = _limit_range(draw, ns)
        objects.append(lr)
        details.append(f"add {lr_text}")
        exps.append(
            expect_object(
                lr,
                m("spec.limits.0.type", "equals", "Container"),
                m("spec.limits.0.default", "quantities", item["default"]),
                m("spec.limits.0.defaultRequest", "quantities", item["defaultRequest"]),
            )
        )
        kinds.append("LimitRange")
    context = draw.pick(
        (
            f"The {team} team is onboarding to the shared cluster.",
            f"New tenant: {team}.",
            "Standard tenant setup, please.",
            f"We are carving out capacity for {team}.",
        )
    )
    what = draw.pick(
        (
            f"the {team} team's namespace {code(ns)}",
            f"a tenant namespace {code(ns)} for {team}",
            f"namespace {code(ns)} with its guard rails",
        )
    )
    return Draft(
        compose(draw, what, details, context=context),
        objects,
        exps,
        kinds,
        [ns],
        tags=["pod-security", "quota"],
    )


def advanced_quota_only(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    ns_obj = namespace_obj(ns, {"app.kubernetes.io/name": app})
    quota, hard, quota_text = _quota(draw, ns)
    lr, item, lr_text = _limit_range(draw, ns)
    details = [
        f"label it {code('app.kubernetes.io/name=' + app)}",
        f"cap it with {quota_text}",
        f"include {lr_text}",
    ]
    exps = [
        expect_object(ns_obj, m("metadata.labels", "contains", ns_obj["metadata"]["labels"])),
        expect_object(quota, m("spec.hard", "quantities", hard)),
        expect_object(
            lr,
            m("spec.limits.0.default", "quantities", item["default"]),
            m("spec.limits.0.defaultRequest", "quantities", item["defaultRequest"]),
        ),
    ]
    notes = [
        draw.pick(
            ("Everything goes in that namespace.", "Keep all of it in the new namespace.", "")
        )
    ]
    return Draft(
        compose(draw, f"a namespace {code(ns)} for {app}", details, notes=[n for n in notes if n]),
        [ns_obj, quota, lr],
        exps,
        ["Namespace", "ResourceQuota", "LimitRange"],
        [ns],
        tags=["quota"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_plain, basic_labelled, basic_annotated],
    Tier.intermediate: [intermediate_metadata, intermediate_pod_security],
    Tier.advanced: [advanced_team_namespace, advanced_quota_only],
}
