"""Secret scenarios: Opaque credentials, typed Secrets (tls, basic-auth, dockerconfigjson,
ssh-auth), immutable Secrets with a least-privilege reader, and image pull setups."""

from __future__ import annotations

import json
import string
from collections.abc import Callable

from kubebench.tasks.authoring.data_files import load_data
from kubebench.tasks.authoring.drafting import (
    Draft,
    Draw,
    binding_obj,
    code,
    compose,
    expect_object,
    fenced,
    m,
    namespace_obj,
    one_object_reader,
    role_obj,
    rule,
    secret_obj,
    service_account,
    service_account_obj,
)
from kubebench.tasks.schema import Tier

_B64 = string.ascii_letters + string.digits + "+/"


def password(draw: Draw, length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(draw.rng.choice(alphabet) for _ in range(length))


def pem(draw: Draw, label: str, lines: int = 3) -> str:
    """A PEM-shaped placeholder; the API server does not parse tls or ssh key material."""
    body = ["MII" + "".join(draw.rng.choice(_B64) for _ in range(61))]
    body += ["".join(draw.rng.choice(_B64) for _ in range(64)) for _ in range(lines - 1)]
    return f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----\n"


_CREDENTIAL_KEYS = load_data("secrets.yaml", tuple[str, ...], "credential_keys")


def _where(draw: Draw, name: str, ns: str, kind_word: str = "Secret") -> str:
    return draw.pick(
        (
            f"a {kind_word} named {code(name)} in the {code(ns)} namespace",
            f"{kind_word} {code(name)} in namespace {code(ns)}",
            f"a {code(name)} {kind_word} in {code(ns)}",
        )
    )


def _secret_checks(values: dict[str, str]) -> list:
    return [
        m(k, "secret_equals", v, f"{k} decodes to the requested value") for k, v in values.items()
    ]


def basic_opaque(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    keys = draw.sample(_CREDENTIAL_KEYS, draw.pick((1, 2)))
    values = {k: password(draw, draw.pick((16, 24, 32))) for k in keys}
    name = draw.pick(
        (f"{app}-credentials", f"{app}-secrets", f"{app}-{keys[0].lower().replace('_', '-')}")
    )
    obj = secret_obj(name, ns, values)
    details = [
        draw.pick((f"set {code(k)} to {code(v)}", f"key {code(k)} = {code(v)}"))
        for k, v in values.items()
    ]
    context = draw.pick(("", f"The {code(app)} service needs credentials injected at startup.", ""))
    prompt = compose(draw, _where(draw, name, ns), details, context=context)
    return Draft(
        prompt,
        [obj],
        [expect_object(obj, m("type", "equals", "Opaque"), *_secret_checks(values))],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
    )


def basic_token(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    service = draw.pick(("slack", "pagerduty", "github", "datadog", "opsgenie"))
    name = f"{service}-token"
    key = draw.pick(("token", "api-token", f"{service}-token"))
    value = password(draw, 32)
    obj = secret_obj(name, ns, {key: value})
    what = draw.pick(
        (
            f"a Secret for the {service} integration: name {code(name)}, namespace {code(ns)}",
            _where(draw, name, ns),
        )
    )
    detail = draw.pick(
        (
            f"store the token {code(value)} under the key {code(key)}",
            f"key {code(key)} holds {code(value)}",
        )
    )
    return Draft(
        compose(draw, what, [detail]),
        [obj],
        [expect_object(obj, *_secret_checks({key: value}))],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
    )


def intermediate_tls(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    host = f"{app}.{draw.pick(draw.pools.domains)}"
    name = draw.pick((f"{app}-tls", f"{host.replace('.', '-')}-tls", f"{app}-cert"))
    crt, key = pem(draw, "CERTIFICATE", 4), pem(draw, "PRIVATE KEY", 3)
    obj = secret_obj(name, ns, {"tls.crt": crt, "tls.key": key}, type_="kubernetes.io/tls")
    details = [
        draw.pick((f"make it a {code('kubernetes.io/tls')} Secret", "use the TLS secret type")),
        "use the certificate and key below",
    ]
    block = fenced("Certificate:", crt) + "\n\n" + fenced("Private key:", key)
    context = draw.pick((f"We are terminating TLS for {host}.", f"Cert for {host} arrived.", ""))
    prompt = compose(
        draw,
        _where(draw, name, ns, "TLS Secret"),
        details,
        context=context,
        block=block,
        keep_order=True,
    )
    return Draft(
        prompt,
        [obj],
        [
            expect_object(
                obj,
                m("type", "equals", "kubernetes.io/tls"),
                *_secret_checks({"tls.crt": crt, "tls.key": key}),
            )
        ],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["typed-secret", "tls"],
    )


def intermediate_basic_auth(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = draw.pick((f"{app}-basic-auth", f"{app}-db-login", f"{app}-admin-login"))
    user_name = draw.pick(("svc_" + app.replace("-", "_"), "admin", app, "readonly"))
    values = {"username": user_name, "password": password(draw, 24)}
    obj = secret_obj(name, ns, values, type_="kubernetes.io/basic-auth")
    details = [
        f"type {code('kubernetes.io/basic-auth')}",
        f"username {code(values['username'])}",
        f"password {code(values['password'])}",
    ]
    details = [draw.pick(("use ", "set ")) + d for d in details]
    prompt = compose(draw, _where(draw, name, ns), details)
    return Draft(
        prompt,
        [obj],
        [
            expect_object(
                obj, m("type", "equals", "kubernetes.io/basic-auth"), *_secret_checks(values)
            )
        ],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["typed-secret"],
    )


def intermediate_registry(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    registry = draw.pick(draw.pools.registries)
    name = draw.pick(("regcred", f"{app}-pull-secret", "registry-credentials", f"{app}-regcred"))
    user_name = draw.pick((f"robot${app}", f"{app}-puller", "ci-pull", f"svc-{app}"))
    secret = password(draw, 28)

    config = {"auths": {registry: {"username": user_name, "password": secret}}}
    obj = secret_obj(
        name, ns, {".dockerconfigjson": json.dumps(config)}, type_="kubernetes.io/dockerconfigjson"
    )
    details = [
        f"registry {code(registry)}",
        f"username {code(user_name)}",
        f"password {code(secret)}",
    ]
    what = draw.pick(
        (
            f"an image pull Secret {code(name)} in {code(ns)}",
            f"a {code('kubernetes.io/dockerconfigjson')} Secret named {code(name)} in "
            f"namespace {code(ns)}",
        )
    )
    details = [f"use {d}" for d in details]
    prompt = compose(draw, what, details, keep_order=draw.chance(0.5))
    expected = {"registry": registry, "username": user_name, "password": secret}
    return Draft(
        prompt,
        [obj],
        [
            expect_object(
                obj,
                m("type", "equals", "kubernetes.io/dockerconfigjson"),
                m(
                    ".dockerconfigjson",
                    "docker_auth",
                    expected,
                    "pull credentials for the registry",
                ),
            )
        ],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["typed-secret", "registry"],
    )


def intermediate_ssh(draw: Draw) -> Draft:
    team = draw.team()
    ns = draw.namespace(team)
    repo = f"git@{draw.pick(('github.com', 'gitlab.com', 'git.' + draw.pick(draw.pools.domains)))}"
    name = draw.pick((f"{team}-git-ssh", "git-deploy-key", f"{team}-deploy-key"))
    key = pem(draw, "OPENSSH PRIVATE KEY", 4)
    values = {"ssh-privatekey": key}
    obj = secret_obj(name, ns, values, type_="kubernetes.io/ssh-auth")
    details = [f"use the {code('kubernetes.io/ssh-auth')} type", "the private key is below"]
    context = f"Our GitOps agent pulls from {repo}."
    prompt = compose(
        draw,
        _where(draw, name, ns),
        details,
        context=context,
        block=fenced("Key:", key),
        keep_order=True,
    )
    return Draft(
        prompt,
        [obj],
        [
            expect_object(
                obj, m("type", "equals", "kubernetes.io/ssh-auth"), *_secret_checks(values)
            )
        ],
        ["Secret"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["typed-secret"],
    )


def advanced_immutable_reader(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    name = f"{app}-db-credentials"
    values = {"username": app.replace("-", "_"), "password": password(draw, 24)}
    sec = secret_obj(name, ns, values, immutable=True)
    sa_name = draw.pick((app, f"{app}-runtime", f"{app}-sa"))
    sa = service_account_obj(sa_name, ns)
    role_name = f"read-{name}"
    role = role_obj(role_name, ns, [rule(["get"], ["secrets"], names=[name])])
    rb = binding_obj(
        "RoleBinding", role_name, ns, "Role", role_name, [service_account(sa_name, ns)]
    )
    details = [
        f"create the Secret {code(name)} with {code('username')}={code(values['username'])} "
        f"and {code('password')}={code(values['password'])}, immutable",
        f"create a ServiceAccount {code(sa_name)}",
        f"let {code(sa_name)} {code('get')} exactly that Secret through a Role "
        f"{code(role_name)} and a RoleBinding of the same name",
    ]
    notes = [
        draw.pick(
            (
                f"{code(sa_name)} must NOT be able to list Secrets, read other Secrets, "
                "or update/delete this one.",
                "Least privilege please: no listing secrets, no other secrets, no "
                "update or delete.",
            )
        )
    ]
    prompt = compose(
        draw,
        f"locked-down database credentials for {app} in {code(ns)}",
        details,
        keep_order=True,
        notes=notes,
    )
    return one_object_reader(
        sec,
        expect_object(sec, m("immutable", "equals", True), *_secret_checks(values)),
        sa,
        role,
        rb,
        prompt=prompt,
        other_name=f"{app}-api-keys",
    )


def advanced_pull_setup(draw: Draw) -> Draft:
    app = draw.app()
    ns = draw.namespace(app)
    registry = draw.pick(draw.pools.registries)
    secret_name = f"{app}-registry"
    user_name, secret = f"{app}-pull", password(draw, 30)

    config = {"auths": {registry: {"username": user_name, "password": secret}}}
    sec = secret_obj(
        secret_name,
        ns,
        {".dockerconfigjson": json.dumps(config)},
        type_="kubernetes.io/dockerconfigjson",
        immutable=True,
    )
    sa_name = f"{app}-runner"
    sa = service_account_obj(
        sa_name, ns, imagePullSecrets=[{"name": secret_name}], automountServiceAccountToken=False
    )
    details = [
        f"create a dockerconfigjson Secret {code(secret_name)} for {code(registry)} "
        f"(username {code(user_name)}, password {code(secret)}) and make it immutable",
        f"create a ServiceAccount {code(sa_name)} that uses {code(secret_name)} as its "
        "image pull secret",
        f"turn off automatic API token mounting for {code(sa_name)}",
    ]
    exps = [
        expect_object(
            sec,
            m("type", "equals", "kubernetes.io/dockerconfigjson"),
            m("immutable", "equals", True),
            m(
                ".dockerconfigjson",
                "docker_auth",
                {"registry": registry, "username": user_name, "password": secret},
            ),
        ),
        expect_object(
            sa,
            m("imagePullSecrets", "superset", [{"name": secret_name}]),
            m("automountServiceAccountToken", "equals", False),
        ),
    ]
    context = draw.pick(
        (
            f"The {app} images live in a private registry.",
            f"Pods of {app} fail with ImagePullBackOff.",
            "",
        )
    )
    prompt = compose(
        draw,
        f"private registry access for {app} in namespace {code(ns)}",
        details,
        context=context,
        keep_order=True,
    )
    return Draft(
        prompt,
        [sec, sa],
        exps,
        ["Secret", "ServiceAccount"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["immutable", "registry"],
    )


SCENARIOS: dict[Tier, list[Callable[[Draw], Draft]]] = {
    Tier.basic: [basic_opaque, basic_token],
    Tier.intermediate: [
        intermediate_tls,
        intermediate_basic_auth,
        intermediate_registry,
        intermediate_ssh,
    ],
    Tier.advanced: [advanced_immutable_reader, advanced_pull_setup],
}
