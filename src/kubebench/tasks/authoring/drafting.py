"""The generator's toolbox: a seeded drawing context, object and expectation builders,
and the phrasing that turns a scenario's requirements into a prompt.

Kind modules (`gen_*.py`) describe scenarios with these pieces; `generator.py` turns the
drafts into `Task`s. Everything random goes through `Draw.rng`, so a seed fixes a split.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import yaml

from kubebench.tasks.authoring.data_files import load_data
from kubebench.tasks.authoring.pools import NamePools
from kubebench.tasks.schema import (
    AccessCheck,
    AccessExpectation,
    FieldMatcher,
    GrantScope,
    ObjectExpectation,
    ObjectRef,
    PermissionsExpectation,
    PolicyRule,
    Subject,
    SubjectsExpectation,
)

AnyExpectation = (
    ObjectExpectation | AccessExpectation | PermissionsExpectation | SubjectsExpectation
)

RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC}/v1"


@dataclass(frozen=True)
class Phrases:
    """The wording prompts are drawn from (`data/phrases.yaml`)."""

    create: tuple[str, ...]
    greet: tuple[str, ...]
    thanks: tuple[str, ...]
    ask: tuple[str, ...]
    detail_leads: tuple[str, ...]
    list_headings: tuple[str, ...]
    namespace_suffixes: tuple[str, ...]
    group_suffixes: tuple[str, ...]


PHRASES = load_data("phrases.yaml", Phrases)

# -- the drawing context -----------------------------------------------------------------


@dataclass
class Draft:
    """A scenario's output before it gets an id: prompt, objects, setup and checks."""

    prompt: str
    objects: list[dict[str, Any]]
    expectations: list[AnyExpectation]
    allowed_kinds: list[str]
    namespaces: list[str] = field(default_factory=list)
    setup: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class Draw:
    """Seeded choices plus a registry that keeps names unique within a split."""

    rng: random.Random
    pools: NamePools
    task_id: str = ""
    used: set[str] = field(default_factory=set)

    def pick(self, items: Any) -> Any:
        return self.rng.choice(list(items))

    def sample(self, items: Any, k: int) -> list[Any]:
        return self.rng.sample(list(items), k)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def unique(self, space: str, make: Any, attempts: int = 60) -> str:
        """A name from `make()` not yet used in `space`; numbered once choices run out."""
        for _ in range(attempts):
            name = make()
            if f"{space}/{name}" not in self.used:
                self.used.add(f"{space}/{name}")
                return name
        base = make()
        for n in range(2, 10_000):
            name = f"{base}-{n}"
            if f"{space}/{name}" not in self.used:
                self.used.add(f"{space}/{name}")
                return name
        raise RuntimeError(f"name space {space} exhausted")

    # Names and values -----------------------------------------------------------------

    def team(self) -> str:
        return self.pick(self.pools.teams)

    def app(self) -> str:
        return self.pick(self.pools.apps)

    def namespace(self, stem: str | None = None) -> str:
        """A namespace name no other task of the split uses."""

        def make() -> str:
            base = stem or self.pick(self.pools.teams + self.pools.apps)
            name = f"{base}-{self.pick(self.pools.envs)}"
            if self.chance(0.3):
                name += f"-{self.pick(PHRASES.namespace_suffixes)}"
            return name

        return self.unique("namespace", make)

    def cluster_name(self, make: Any) -> str:
        """A cluster-scoped name (ClusterRole, ClusterRoleBinding) unique in the split."""
        return self.unique("cluster", make)

    def person(self) -> str:
        """A user name, unique in the split so one task's grants never reach another's."""

        def make() -> str:
            first, last = self.pick(self.pools.first_names), self.pick(self.pools.last_names)
            style = self.rng.randrange(3)
            if style == 0:
                return f"{first}.{last}@{self.pick(self.pools.domains)}"
            if style == 1:
                return f"{first}.{last}"
            return f"{first[0]}{last}"

        return self.unique("user", make)

    def group(self, team: str | None = None, suffixes: tuple[str, ...] = ()) -> str:
        def make() -> str:
            prefix = self.pick(self.pools.idp_prefixes)
            suffix = self.pick(suffixes or PHRASES.group_suffixes)
            return f"{prefix}{team or self.team()}-{suffix}"

        return self.unique("group", make)

    def bot(self) -> str:
        return self.pick(self.pools.bots)

    def ticket(self) -> str:
        return f"{self.pick(self.pools.ticket_prefixes)}-{self.rng.randrange(120, 9900)}"

    def probe_user(self) -> str:
        """A user the harness binds in setup to test a role's rules behaviourally."""
        return f"kubebench:probe:{self.task_id}"


# -- object builders ---------------------------------------------------------------------


def meta(
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    return out


def namespace_obj(
    name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(name, None, labels, annotations),
    }


def configmap_obj(
    name: str,
    ns: str,
    data: dict[str, str],
    *,
    labels: dict[str, str] | None = None,
    immutable: bool = False,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name, ns, labels),
        "data": dict(data),
    }
    if immutable:
        obj["immutable"] = True
    return obj


def secret_obj(
    name: str,
    ns: str,
    values: dict[str, str],
    *,
    type_: str = "Opaque",
    labels: dict[str, str] | None = None,
    immutable: bool = False,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(name, ns, labels),
        "type": type_,
        "stringData": dict(values),
    }
    if immutable:
        obj["immutable"] = True
    return obj


def service_account_obj(name: str, ns: str, **extra: Any) -> dict[str, Any]:
    labels = extra.pop("labels", None)
    annotations = extra.pop("annotations", None)
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(name, ns, labels, annotations),
        **extra,
    }


def rule(
    verbs: list[str],
    resources: list[str],
    groups: list[str] | None = None,
    names: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiGroups": list(groups or [""]),
        "resources": list(resources),
        "verbs": list(verbs),
    }
    if names:
        out["resourceNames"] = list(names)
    return out


def url_rule(verbs: list[str], urls: list[str]) -> dict[str, Any]:
    return {"nonResourceURLs": list(urls), "verbs": list(verbs)}


def role_obj(
    name: str, ns: str, rules: list[dict[str, Any]], *, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": "Role",
        "metadata": meta(name, ns, labels),
        "rules": rules,
    }


def cluster_role_obj(
    name: str,
    rules: list[dict[str, Any]] | None,
    *,
    labels: dict[str, str] | None = None,
    aggregate_selector: dict[str, str] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": RBAC_V1,
        "kind": "ClusterRole",
        "metadata": meta(name, None, labels),
    }
    if aggregate_selector:
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": aggregate_selector}]}
    else:
        obj["rules"] = rules or []
    return obj


def subject_dict(subject: Subject) -> dict[str, Any]:
    if subject.kind == "ServiceAccount":
        return {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
    return {"kind": subject.kind, "name": subject.name, "apiGroup": RBAC}


def binding_obj(
    kind: str, name: str, ns: str | None, role_kind: str, role_name: str, subjects: list[Subject]
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": meta(name, ns),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": [subject_dict(s) for s in subjects],
    }


def probe_binding(draw: Draw, role_kind: str, role_name: str, ns: str | None) -> dict[str, Any]:
    """A setup binding of a role the answer creates to the task's probe user."""
    kind = "RoleBinding" if ns else "ClusterRoleBinding"
    name = f"kubebench-probe-{draw.task_id}"
    return binding_obj(
        kind, name, ns, role_kind, role_name, [Subject(kind="User", name=draw.probe_user())]
    )


# -- expectation builders ----------------------------------------------------------------


def expect_object(
    obj: dict[str, Any], *matchers: FieldMatcher, description: str = ""
) -> ObjectExpectation:
    md = obj["metadata"]
    ref = ObjectRef(
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        name=md["name"],
        namespace=md.get("namespace"),
    )
    where = f"{obj['kind']} {md.get('namespace') + '/' if md.get('namespace') else ''}{md['name']}"
    return ObjectExpectation(
        ref=ref, matchers=list(matchers), description=description or f"{where} exists"
    )


def m(path: str, op: str, value: Any = None, description: str = "") -> FieldMatcher:
    return FieldMatcher(path=path, op=op, value=value, description=description)  # type: ignore[arg-type]


def check(
    verb: str,
    resource: str = "",
    *,
    group: str = "",
    sub: str = "",
    ns: str = "",
    name: str = "",
    url: str | None = None,
) -> AccessCheck:
    return AccessCheck(
        verb=verb,
        resource=resource,
        group=group,
        subresource=sub,
        namespace=ns,
        name=name,
        non_resource_url=url,
    )


def expect_access(
    subject: Subject, allowed: list[AccessCheck], denied: list[AccessCheck], description: str = ""
) -> AccessExpectation:
    return AccessExpectation(
        subject=subject, allowed=allowed, denied=denied, description=description
    )


def policy_rule(rule: dict[str, Any]) -> PolicyRule:
    """A rule as a Role spells it (camelCase keys) as a task's PolicyRule."""
    return PolicyRule(
        verbs=list(rule["verbs"]),
        api_groups=list(rule.get("apiGroups") or []),
        resources=list(rule.get("resources") or []),
        resource_names=list(rule.get("resourceNames") or []),
        non_resource_urls=list(rule.get("nonResourceURLs") or []),
    )


def expect_permissions(
    subject: Subject, grants: dict[str, list[dict[str, Any]]], description: str = ""
) -> PermissionsExpectation:
    """`subject` is granted exactly `grants`: rules per namespace, "" for cluster-wide."""
    return PermissionsExpectation(
        subject=subject,
        scopes=[
            GrantScope(namespace=ns, rules=[policy_rule(r) for r in rules])
            for ns, rules in grants.items()
        ],
        description=description,
    )


def expect_subjects(allowed: list[Subject], description: str = "") -> SubjectsExpectation:
    """No subject of the answer's bindings other than `allowed` gains any access."""
    return SubjectsExpectation(allowed=list(allowed), description=description)


def user(name: str) -> Subject:
    return Subject(kind="User", name=name)


def group(name: str) -> Subject:
    return Subject(kind="Group", name=name)


def service_account(name: str, ns: str) -> Subject:
    return Subject(kind="ServiceAccount", name=name, namespace=ns)


def one_object_reader(
    obj: dict[str, Any],
    object_expectation: ObjectExpectation,
    reader: dict[str, Any],
    role: dict[str, Any],
    binding: dict[str, Any],
    *,
    prompt: str,
    other_name: str,
) -> Draft:
    """An immutable object that one ServiceAccount (`reader`) may `get` by name and
    nothing else: its Role and RoleBinding are checked exactly, and listing, another
    object of the kind (`other_name`), updates and deletes are checked denied."""
    kind, ns, name = obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"]
    resource = f"{kind.lower()}s"
    subject = service_account(reader["metadata"]["name"], ns)
    expectations: list[AnyExpectation] = [
        object_expectation,
        expect_object(reader),
        expect_object(role),
        expect_object(binding),
        expect_permissions(subject, {ns: role["rules"]}),
        expect_subjects([subject]),
        expect_access(
            subject,
            [],
            [
                check("list", resource, ns=ns),
                check("get", resource, ns=ns, name=other_name),
                check("update", resource, ns=ns, name=name),
                check("delete", resource, ns=ns, name=name),
            ],
        ),
    ]
    return Draft(
        prompt,
        [obj, reader, role, binding],
        expectations,
        [kind, "ServiceAccount", "Role", "RoleBinding"],
        [ns],
        setup=[namespace_obj(ns)],
        tags=["immutable", "least-privilege"],
    )


# -- YAML --------------------------------------------------------------------------------


class _BlockDumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str_representer)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """Objects as a multi-document YAML string, block style, keys in authoring order."""
    return "---\n".join(
        yaml.dump(obj, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1000)
        for obj in objects
    )


# -- phrasing ----------------------------------------------------------------------------


def singular(resource: str) -> str:
    """`storageclasses` -> `storageclass`, `pods/log` -> `pod` (for naming things)."""
    plural = resource.split("/")[0]
    if plural.endswith("sses"):
        return plural[:-2]
    return plural.removesuffix("s")


def code(text: str) -> str:
    return f"`{text}`"


def join_words(items: list[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def verbs_text(verbs: list[str]) -> str:
    return join_words([code(v) for v in verbs])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def compose(
    draw: Draw,
    what: str,
    details: list[str],
    *,
    context: str = "",
    block: str = "",
    keep_order: bool = False,
    notes: list[str] | None = None,
) -> str:
    """A prompt in one of several registers: terse ticket, chatty request, bullet list,
    plain instructions or a numbered spec. `details` are lowercase imperative clauses;
    `notes` are full sentences (constraints) placed after them."""
    details = list(details)
    if not keep_order:
        draw.rng.shuffle(details)
    notes = list(notes or [])
    register = draw.rng.randrange(5)
    if register == 0:  # plain instructions
        parts = [f"{draw.pick(PHRASES.create)} {what}."]
        if context and draw.chance(0.6):
            parts.insert(0, context)
        parts += [f"{_cap(d)}." for d in details] + notes
        text = " ".join(parts)
    elif register == 1:  # terse ticket
        head = f"{draw.ticket()}: {what}"
        body = "; ".join(details)
        text = f"{head}. {_cap(body)}." if body else f"{head}."
        if notes:
            text += " " + " ".join(notes)
    elif register == 2:  # chatty
        parts = [draw.pick(PHRASES.greet)]
        if context:
            parts.append(context)
        parts.append(f"{draw.pick(PHRASES.ask)} {what}?")
        if details:
            lead = draw.pick(PHRASES.detail_leads)
            parts.append(f"{lead} {join_words(details)}.")
        parts += notes
        parts.append(draw.pick(PHRASES.thanks))
        text = " ".join(p for p in parts if p)
    elif register == 3:  # bullet list
        intro = draw.pick(PHRASES.list_headings)
        lines = [f"{context} {draw.pick(PHRASES.create)} {what}.".strip()]
        if details:
            lines.append(f"{intro}:")
            lines += [f"- {_cap(d)}" for d in details]
        lines += [f"- {n}" for n in notes] if details else notes
        text = "\n".join(lines)
    else:  # numbered spec
        lines = [f"Task: {what}."]
        if context:
            lines.insert(0, context)
        lines += [f"{i}. {_cap(d)}." for i, d in enumerate(details, 1)]
        lines += notes
        text = "\n".join(lines)
    if block:
        text += "\n\n" + block
    return text.strip()


def fenced(label: str, content: str) -> str:
    return f"{label}\n```\n{content.rstrip()}\n```"
