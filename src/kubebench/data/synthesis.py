"""Requests written from an object's own content, and answers in the benchmark's answer
format (optional short reasoning, then one fenced `yaml` block).

Written independently of `tasks/`: its own styles, wording and no name pools (every
name comes from the object itself), so that the training data does not carry the test
prompts' fingerprints. Deterministic: the style is chosen by a hash of the objects.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

STYLES = ("imperative", "wanted", "question", "context", "terse")
_CORE_READ = frozenset(("get", "list", "watch"))


def _q(text: object) -> str:
    return f'"{text}"'


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _listing(items: Sequence[str], limit: int = 6) -> str:
    shown = list(items[:limit])
    more = len(items) - len(shown)
    if more > 0:
        shown.append(f"{more} more")
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def subject_phrase(obj: dict[str, Any]) -> str:
    meta = _meta(obj)
    kind = str(obj.get("kind"))
    name = meta.get("name") or meta.get("generateName") or "unnamed"
    text = f"{_article(kind)} {kind} {_q(name)}"
    if isinstance(meta.get("namespace"), str):
        text += f" in namespace {_q(meta['namespace'])}"
    return text


def _short(value: object, limit: int = 48) -> str | None:
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, str) and "\n" not in value and len(value) <= limit:
        return value
    return None


def _pairs(mapping: object, limit: int | None = 5) -> list[str]:
    if not isinstance(mapping, dict):
        return []
    return [
        f"{k}={v}" if _short(v) is not None else str(k) for k, v in list(mapping.items())[:limit]
    ]


def _rule_phrase(rule: dict[str, Any]) -> str:
    verbs = [str(v) for v in rule.get("verbs") or []]
    if urls := rule.get("nonResourceURLs"):
        return f"{'/'.join(verbs)} on the URLs {_listing([str(u) for u in urls])}"
    resources = [str(r) for r in rule.get("resources") or []]
    groups = [g or "core" for g in (str(g) for g in rule.get("apiGroups") or [""])]
    text = f"{'/'.join(verbs) or 'no verbs'} on {_listing(resources) or 'no resources'}"
    text += f" (API group {_listing(groups)})"
    if names := rule.get("resourceNames"):
        text += f", only the objects {_listing([str(n) for n in names])}"
    return text


def _subject(subject: dict[str, Any]) -> str:
    kind, name = subject.get("kind", "?"), subject.get("name", "?")
    ns = subject.get("namespace")
    return f"{kind} {_q(f'{ns}/{name}' if ns else name)}"


def _containers(spec: dict[str, Any]) -> list[str]:
    out = []
    for field, what in (("initContainers", "init container"), ("containers", "container")):
        for c in spec.get(field) or []:
            if not isinstance(c, dict):
                continue
            text = f"{what} {_q(c.get('name'))} from image {_q(c.get('image'))}"
            ports = [
                str(p.get("containerPort")) for p in c.get("ports") or [] if isinstance(p, dict)
            ]
            if ports:
                text += f" listening on {_listing(ports)}"
            resources = c.get("resources") if isinstance(c.get("resources"), dict) else {}
            for bound in ("requests", "limits"):
                if pairs := _pairs(resources.get(bound)):
                    text += f", {bound} {_listing(pairs)}"
            out.append(text)
    return out


def object_facts(obj: dict[str, Any]) -> list[str]:
    """What the object holds, as short phrases a request can be built from."""
    kind = obj.get("kind")
    meta = _meta(obj)
    facts: list[str] = []
    # Labels (up to 8, then a count) and annotations (up to 5) with their short values:
    # a request that leaves out what the answer holds teaches the model to invent values.
    if labels := _pairs(meta.get("labels"), None):
        facts.append(f"labels {_listing(labels, 8)}")
    if annotations := _pairs(meta.get("annotations"), None):
        facts.append(f"annotations {_listing(annotations, 5)}")
    if kind in ("ConfigMap", "Secret"):
        if kind == "Secret" and obj.get("type") not in (None, "Opaque"):
            facts.append(f"type {obj['type']}")
        for field, what in (("data", "data keys"), ("stringData", "plain-text keys"),
                            ("binaryData", "binary keys")):  # fmt: skip
            data = obj.get(field)
            if isinstance(data, dict) and data:
                shown = []
                for key, value in data.items():
                    plain = _short(value, 160) if field != "data" or kind == "ConfigMap" else None
                    if plain is not None and (" " in plain or len(plain) > 48):
                        plain = _q(plain)
                    shown.append(f"{key}={plain}" if plain is not None else f"{key} (a file)")
                facts.append(f"{what} {_listing(shown, 8)}")
        if obj.get("immutable"):
            facts.append("immutable")
    elif kind == "ServiceAccount":
        if "automountServiceAccountToken" in obj:
            state = "on" if obj["automountServiceAccountToken"] else "off"
            facts.append(f"token automounting {state}")
        pulls = [
            str(p.get("name")) for p in obj.get("imagePullSecrets") or [] if isinstance(p, dict)
        ]
        if pulls:
            facts.append(f"image pull secrets {_listing(pulls)}")
    elif kind in ("Role", "ClusterRole"):
        rules = [r for r in obj.get("rules") or [] if isinstance(r, dict)]
        facts += [_rule_phrase(r) for r in rules[:6]]
        if len(rules) > 6:
            facts.append(f"{len(rules) - 6} further rules")
        agg = obj.get("aggregationRule")
        if isinstance(agg, dict):
            selectors = [
                _listing(_pairs(s.get("matchLabels")))
                for s in agg.get("clusterRoleSelectors") or []
                if isinstance(s, dict)
            ]
            facts.append(f"aggregating ClusterRoles labelled {_listing(selectors)}")
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
        subjects = [_subject(s) for s in obj.get("subjects") or [] if isinstance(s, dict)]
        facts.append(f"granting {ref.get('kind', 'Role')} {_q(ref.get('name'))}")
        if subjects:
            facts.append(f"to {_listing(subjects)}")
    else:
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        if "replicas" in spec:
            facts.append(f"{spec['replicas']} replicas")
        template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
        pod = template.get("spec") if isinstance(template.get("spec"), dict) else spec
        facts += _containers(pod)[:4]
        if kind == "Service":
            ports = [str(p.get("port")) for p in spec.get("ports") or [] if isinstance(p, dict)]
            if spec.get("type"):
                facts.append(f"type {spec['type']}")
            if ports:
                facts.append(f"ports {_listing(ports)}")
        if not facts and spec:
            facts.append(f"spec fields {_listing([str(k) for k in spec], 6)}")
    return facts


def _reasoning(objs: Sequence[dict[str, Any]]) -> str:
    kinds = {str(o.get("kind")) for o in objs}
    notes = []
    if kinds & {"RoleBinding", "ClusterRoleBinding"}:
        notes.append("The binding's roleRef names the role it grants and cannot change later.")
    if "ClusterRole" in kinds:
        notes.append("A ClusterRole is cluster-scoped, so it has no namespace.")
    elif "Role" in kinds:
        notes.append("A Role only grants access inside its own namespace.")
    if "Secret" in kinds:
        notes.append("Values under data are base64-encoded; stringData takes plain text.")
    if "ConfigMap" in kinds and not notes:
        notes.append("Each data key becomes one entry of the ConfigMap.")
    if len(objs) > 1:
        notes.append(f"The {len(objs)} objects go in one stream separated by ---.")
    return " ".join(notes[:2])


def choose_style(key: str) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return STYLES[digest[0] % len(STYLES)]


def write_request(objs: Sequence[dict[str, Any]], style: str) -> str:
    """A user request for these objects, in the given style."""
    if len(objs) == 1:
        what, facts = subject_phrase(objs[0]), object_facts(objs[0])
        if style == "imperative":
            body = f"Write the manifest for {what}."
            return body + (f" It needs {_listing(facts, 8)}." if facts else "")
        if style == "wanted":
            lines = [f"Manifest wanted: {what}."] + [f"* {f}" for f in facts]
            return "\n".join(lines)
        if style == "question":
            tail = f", with {_listing(facts, 8)}" if facts else ""
            return f"What YAML would give me {what}{tail}?"
        if style == "context":
            tail = f" Include {_listing(facts, 8)}." if facts else ""
            return f"For our cluster setup I need {what}.{tail} Please give the YAML."
        return f"{what[0].upper()}{what[1:]}" + (f": {'; '.join(facts)}" if facts else "")
    parts = [(subject_phrase(o), object_facts(o)) for o in objs]
    bullets = [f"* {w}" + (f" ({'; '.join(f)})" if f else "") for w, f in parts]
    openers = {
        "imperative": "Write these objects as one manifest:",
        "wanted": "Manifests wanted, all in one file:",
        "question": "What YAML would create all of the following together?",
        "context": "For our cluster setup I need a set of related objects:",
        "terse": "Objects:",
    }
    return "\n".join([openers[style], *bullets])


def write_answer(yamls: Sequence[str], objs: Sequence[dict[str, Any]], style: str) -> str:
    """The benchmark's answer format; reasoning first in some styles."""
    block = "```yaml\n" + "---\n".join(y if y.endswith("\n") else y + "\n" for y in yamls) + "```"
    if style in ("question", "context"):
        reasoning = _reasoning(objs)
        if reasoning:
            return f"{reasoning}\n\n{block}"
    return block
