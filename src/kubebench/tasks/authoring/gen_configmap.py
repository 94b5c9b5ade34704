"""ConfigMap scenarios: environment settings, multi-line config files, immutable config
with a least-privilege reader."""

from __future__ import annotations

from collections.abc import Callable

from kubebench.tasks.authoring.config_files import CONFIG_FILES, ENV_SETTINGS
from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    check,
    code,
    compose,
    configmap_obj,
    expect_access,
    expect_object,
    expect_permissions,
    expect_subjects,
    fenced,
    group,
    m,
    namespace_obj,
    one_object_reader,
    role_obj,
    rule,
    service_account,
    service_account_obj,
)
from kubebench.tasks.schema import Tier


def _settings(draw: Draw, k: int) -> dict[str, str]:
    keys = draw.sample(ENV_SETTINGS, k)
    return {key: draw.pick(ENV_SETTINGS[key]) for key in keys}


def _where(draw: Draw, name: str, ns: str) -> str:
    return draw.pick(
        (
            f"a ConfigMap named {code(name)} in the {code(ns)} namespace",
            f"ConfigMap {code(name)} in namespace {code(ns)}",
            f"a ConfigMap {code(name)} (namespace {code(ns)})",
            f"a {code(name)} ConfigMap in {code(ns)}",
        )
    )


def _setting_details(draw: Draw, data: dict[str, str]) -> list[str]:
    style = draw.rng.randrange(3)
    if style == 0:
        return [f"set {code(k)} to {code(v)}" for k, v in data.items()]
    if style == 1:
        return [f"{code(k)}={code(v)}" for k, v in data.items()]
    return [f"key {code(k)} with value {code(v)}" for k, v in data.items()]


def basic_settings(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = draw.pick((f"{app}-config", f"{app}-env", f"{app}-settings"))
    data = _settings(draw, draw.pick((1, 2, 3)))
    obj = configmap_obj(name, ns, data)
    context = draw.pick(
        (f"The {code(app)} service reads its settings from environment variables.", "", "")
    )
    details = _setting_details(draw, data)
    prompt = compose(draw, _where(draw, name, ns), details, context=context)
    return Draft(
        prompt,
        [obj],
        [expect_object(obj, m("data", "contains", data))],
        ["ConfigMap"],
        [ns],
        setup=[namespace_obj(ns)],
    )


def basic_single_file(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    fname = draw.pick(("redis.conf", "prometheus.yml", "settings.json", "fluent-bit.conf"))
    content = CONFIG_FILES[fname](draw, app)
    name = draw.pick(
        (f"{app}-{fname.split('.')[0]}", f"{app}-files", f"{fname.split('.')[0]}-config")
    )
    obj = configmap_obj(name, ns, {fname: content})
    what = _where(draw, name, ns)
    detail = draw.pick(
        (
            f"store the file below under the key {code(fname)}",
            f"put this {fname} in it, key {code(fname)}",
        )
    )
    prompt = compose(draw, what, [detail], block=fenced(f"{fname}:", content))
    return Draft(
        prompt,
        [obj],
        [expect_object(obj, m("data", "contains", {fname: content}))],
        ["ConfigMap"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["config-file"],
    )


def intermediate_config_file(draw: Draw) -> Draft:
    app, team = draw.app(), draw.team()
    ns = draw.namespace(app)
    fname = draw.pick(("nginx.conf", "application.properties", "logback.xml"))
    content = CONFIG_FILES[fname](draw, app)
    name = draw.pick((f"{app}-config", f"{app}-{fname.split('.')[0]}"))
    extra = _settings(draw, draw.pick((1, 2)))
    labels = {"app.kubernetes.io/name": app, "team": team}
    data = {fname: content, **extra}
    obj = configmap_obj(name, ns, data, labels=labels)
    details = [f"put the file below in it under the key {code(fname)}"]
    details += _setting_details(draw, extra)
    details.append(
        draw.pick(
            (
                f"label it {code('app.kubernetes.io/name=' + app)} and {code('team=' + team)}",
                f"labels: app.kubernetes.io/name={app}, team={team}",
            )
        )
    )
    prompt = compose(
        draw, _where(draw, name, ns), details, block=fenced(f"Contents of {fname}:", content)
    )
    return Draft(
        prompt,
        [obj],
        [expect_object(obj, m("data", "contains", data), m("metadata.labels", "contains", labels))],
        ["ConfigMap"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["config-file"],
    )


def intermediate_two_files(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    f1, f2 = draw.sample(
        (
            "nginx.conf",
            "redis.conf",
            "prometheus.yml",
            "settings.json",
            "fluent-bit.conf",
            "logback.xml",
        ),
        2,
    )
    c1, c2 = CONFIG_FILES[f1](draw, app), CONFIG_FILES[f2](draw, app)
    name = f"{app}-{draw.pick(('bundle', 'files', 'conf'))}"
    obj = configmap_obj(name, ns, {f1: c1, f2: c2})
    details = [f"include {code(f1)} and {code(f2)} as separate keys, contents below"]
    block = fenced(f"{f1}:", c1) + "\n\n" + fenced(f"{f2}:", c2)
    prompt = compose(draw, _where(draw, name, ns), details, block=block)
    return Draft(
        prompt,
        [obj],
        [expect_object(obj, m("data", "contains", {f1: c1, f2: c2}))],
        ["ConfigMap"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["config-file"],
    )


def advanced_immutable_reader(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    version = draw.rng.randrange(2, 12)
    name = f"{app}-config-v{version}"
    data = _settings(draw, draw.pick((2, 3)))
    cm = configmap_obj(name, ns, data, immutable=True)
    sa_name = app
    sa = service_account_obj(sa_name, ns)
    role_name = f"{app}-config-reader"
    role = role_obj(role_name, ns, [rule(["get"], ["configmaps"], names=[name])])
    rb = binding_obj(
        "RoleBinding", role_name, ns, "Role", role_name, [service_account(sa_name, ns)]
    )
    details = [
        f"make {code(name)} immutable",
        *_setting_details(draw, data),
        f"create a ServiceAccount {code(sa_name)}",
        f"give {code(sa_name)} a Role {code(role_name)} (bound with a RoleBinding) that "
        f"lets it {code('get')} that one ConfigMap by name",
    ]
    notes = [
        draw.pick(
            (
                f"{code(sa_name)} must not be able to list ConfigMaps, read any other "
                "ConfigMap, or modify this one.",
                f"Least privilege: no list, no access to other ConfigMaps, no updates "
                f"for {code(sa_name)}.",
            )
        )
    ]
    prompt = compose(
        draw,
        f"versioned, immutable config for {app} in {code(ns)}: ConfigMap {code(name)}",
        details,
        keep_order=True,
        notes=notes,
    )
    return one_object_reader(
        cm,
        expect_object(cm, m("immutable", "equals", True), m("data", "contains", data)),
        sa,
        role,
        rb,
        prompt=prompt,
        other_name=f"{app}-config-v{version - 1}",
    )


def advanced_immutable_bundle(draw: Draw) -> Draft:
    app, team = draw.app(), draw.team()
    ns = draw.namespace(team)
    fname = draw.pick(tuple(CONFIG_FILES))
    content = CONFIG_FILES[fname](draw, app)
    release = f"{draw.rng.randrange(1, 5)}.{draw.rng.randrange(0, 20)}"
    name = f"{app}-{release.replace('.', '-')}"
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/version": release}
    cm = configmap_obj(name, ns, {fname: content}, labels=labels, immutable=True)
    grp = draw.group(team)
    role_name = f"{app}-config-viewer"
    role = role_obj(role_name, ns, [rule(["get", "list", "watch"], ["configmaps"])])
    rb = binding_obj("RoleBinding", f"{role_name}-{team}", ns, "Role", role_name, [group(grp)])
    details = [
        f"create ConfigMap {code(name)} holding {code(fname)} (below), marked immutable",
        f"label it {code('app.kubernetes.io/name=' + app)} and "
        f"{code('app.kubernetes.io/version=' + release)}",
        f"add a Role {code(role_name)} allowing {code('get')}, {code('list')} and "
        f"{code('watch')} on ConfigMaps",
        f"add a RoleBinding {code(rb['metadata']['name'])} granting that Role to the group "
        f"{code(grp)}",
    ]
    notes = [f"The group must not be able to create, change or delete ConfigMaps in {code(ns)}."]
    exps = [
        expect_object(
            cm,
            m("immutable", "equals", True),
            m("data", "contains", {fname: content}),
            m("metadata.labels", "contains", labels),
        ),
        expect_object(role),
        expect_object(rb, m("roleRef.name", "equals", role_name)),
        expect_permissions(group(grp), {ns: role["rules"]}),
        expect_subjects([group(grp)]),
        expect_access(
            group(grp),
            [],
            [
                check("update", "configmaps", ns=ns, name=name),
                check("delete", "configmaps", ns=ns, name=name),
                check("create", "configmaps", ns=ns),
            ],
        ),
    ]
    prompt = compose(
        draw,
        f"release {release} config for {app} in namespace {code(ns)}",
        details,
        keep_order=True,
        notes=notes,
        block=fenced(f"{fname}:", content),
    )
    return Draft(
        prompt,
        [cm, role, rb],
        exps,
        ["ConfigMap", "Role", "RoleBinding"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["immutable", "config-file"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_settings, basic_single_file],
    Tier.intermediate: [intermediate_config_file, intermediate_two_files],
    Tier.advanced: [advanced_immutable_reader, advanced_immutable_bundle],
}
