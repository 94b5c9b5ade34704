"""File filters, document splitting, the grader's parser, placeholders, canonical JSON."""

from __future__ import annotations

from kubebench.data.file_filters import license_reason, size_reason, template_reason
from kubebench.data.objects import (
    canonical_json,
    parse_document,
    placeholder_reason,
    render_yaml,
    split_documents,
)
from kubebench.data.records import SourceFile
from kubebench.grading.parse import ParseLimits


def _file(license: tuple[str, ...]) -> SourceFile:
    return SourceFile("corpus:x", "a/b", "x.yaml", license, "kind: x")


def test_license_allowlist() -> None:
    allow = ("Apache-2.0", "MIT")
    assert license_reason(_file(("apache-2.0",)), allow) is None
    assert license_reason(_file(("MIT", "GPL-3.0")), allow) == (
        "licence not on the allowlist: GPL-3.0"
    )
    assert license_reason(_file(()), allow) == "no licence recorded"


def test_size_and_line_filters() -> None:
    assert size_reason("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n") is None
    assert size_reason("a: b") == "under 20 bytes"
    assert size_reason("k: " + "x" * 1200 + "\n") == "a line over 1000 characters"
    assert "alphanumeric" in size_reason("- {}\n" * 50 + "a: [[[[[[[]]]]]]]\n" * 20)  # type: ignore[operator]


def test_templates() -> None:
    assert template_reason("name: {{ .Values.name }}\n") == "Helm/Go template ({{ }})"
    assert template_reason("{% if x %}\n") == "Jinja template ({% %})"
    assert template_reason("name: plain\n") is None


def test_split_parse_and_kubernetes_only() -> None:
    text = (
        "# comment only\n---\napiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
        "---\nfoo: bar\n---\nkey: [unclosed\n---\na: 1\na: 2\n"
    )
    docs = split_documents(text)
    assert [d.first_line for d in docs] == [3, 9, 11, 13]
    outcomes = [parse_document(d) for d in docs]
    assert [o["metadata"]["name"] for o in outcomes[0].objects] == ["a", "b"]
    assert outcomes[1].stage == "kubernetes_only" and "has no apiVersion" in outcomes[1].reason
    assert outcomes[2].stage == "split_parse" and "invalid YAML at line" in outcomes[2].reason
    assert outcomes[3].stage == "split_parse" and "duplicate key 'a'" in outcomes[3].reason


def test_the_graders_limits_apply() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(12)
    )
    outcome = parse_document(split_documents("apiVersion: v1\nkind: X\n" + bomb)[0])
    assert outcome.stage == "split_parse" and "expands to more than" in outcome.reason
    many = "apiVersion: v1\nkind: List\nitems:\n" + "- {apiVersion: v1, kind: A}\n" * 3
    limited = parse_document(split_documents(many)[0], ParseLimits(max_documents=2))
    assert "more than 2 YAML documents" in limited.reason


def test_placeholders() -> None:
    def obj(**meta: str) -> dict:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}

    assert placeholder_reason(obj(name="${APP_NAME}")) == "envsubst placeholder in metadata.name"
    assert placeholder_reason(obj(name="a", namespace="$(NAMESPACE)")) == (
        "kustomize variable in metadata.namespace"
    )
    assert placeholder_reason(obj(name="<your-app>")) == "fill-in placeholder in metadata.name"
    assert placeholder_reason(obj(name="CHANGEME")) == "fill-in placeholder in metadata.name"
    # Scripts in data and container commands may use shell and Kubernetes variables.
    script = {**obj(name="a"), "data": {"run.sh": "echo ${HOME}"}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "args": ["$(POD_IP)"],
                                    "env": [{"name": "X", "value": "${Y}"}]}]}}  # fmt: skip
    assert placeholder_reason(script) is None and placeholder_reason(pod) is None


def test_canonical_json_ignores_order_and_server_fields() -> None:
    a = {"kind": "Role", "apiVersion": "v1", "metadata": {"name": "r", "uid": "1"}, "status": {}}
    b = {"apiVersion": "v1", "metadata": {"resourceVersion": "9", "name": "r"}, "kind": "Role"}
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) != canonical_json({**b, "metadata": {"name": "s"}})


def test_render_yaml_reads_back_as_kubectl_would() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "data": {"flag": "y", "mode": "0755", "on": "yes", "script": "a\nb\n"}}  # fmt: skip
    text = render_yaml(obj)
    assert text is not None and "script: |" in text
    assert parse_document(split_documents(text)[0]).objects == [obj]
