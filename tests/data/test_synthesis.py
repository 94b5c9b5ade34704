"""Requests and answers: deterministic, several styles, the benchmark's answer format,
related objects grouped, docs sections turned into examples."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from kubebench.data import docs
from kubebench.data.grouping import group_related
from kubebench.data.objects import render_yaml
from kubebench.data.synthesis import STYLES, choose_style, write_answer, write_request
from kubebench.grading.extract import extract_yaml
from kubebench.grading.parse import parse_documents

TRIO = list(
    yaml.safe_load_all("""
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: ci}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated, namespace: ci}
data: {LOG_LEVEL: debug}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deploy-rights, namespace: ci}
rules:
- {apiGroups: [apps], resources: [deployments], verbs: [get, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer-rights, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deploy-rights}
subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]
""")
)


def test_related_objects_are_grouped() -> None:
    assert group_related(TRIO) == [[0, 2, 3], [1]]
    assert group_related(TRIO, max_size=2) == [[0, 2], [3], [1]]


def test_requests_name_the_content_in_every_style() -> None:
    requests = {style: write_request([TRIO[1]], style) for style in STYLES}
    assert len(set(requests.values())) == len(STYLES)
    for text in requests.values():
        assert '"unrelated"' in text and '"ci"' in text and "LOG_LEVEL=debug" in text
    group = write_request([TRIO[0], TRIO[2], TRIO[3]], "wanted")
    assert "get/patch on deployments (API group apps)" in group
    assert 'granting Role "deploy-rights"' in group and 'ServiceAccount "ci/deployer"' in group


def test_requests_state_label_and_annotation_values() -> None:
    """What the answer holds is in the request: values of labels and short annotations."""
    obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "shop",
            "labels": {f"l{i}": f"v{i}" for i in range(10)},
            "annotations": {"owner": "team@example.com", "note": "x" * 200},
        },
    }
    text = write_request([obj], "imperative")
    assert all(f"l{i}=v{i}" in text for i in range(8)) and "2 more" in text
    assert "owner=team@example.com" in text and "note" in text and "x" * 49 not in text


def test_style_choice_is_deterministic() -> None:
    assert choose_style("abc") == choose_style("abc")
    assert {choose_style(str(i)) for i in range(200)} == set(STYLES)


def test_answers_are_in_the_benchmark_format() -> None:
    objs = [TRIO[0], TRIO[2], TRIO[3]]
    yamls = [render_yaml(o) for o in objs]
    for style in STYLES:
        answer = write_answer(yamls, objs, style)  # type: ignore[arg-type]
        assert answer.endswith("```")
        extraction = extract_yaml(answer)
        assert [d.obj for d in parse_documents(extraction.blocks)] == objs
        if style in ("question", "context"):
            assert extraction.prose  # short reasoning first


def test_synthesis_is_written_apart_from_tasks() -> None:
    """No import of kubebench.tasks in the request writers (no shared phrases or pools)."""
    root = Path(docs.__file__).parent
    for name in ("synthesis.py", "docs.py", "grouping.py"):
        tree = ast.parse((root / name).read_text())
        modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in modules if m and m.startswith("kubebench.tasks")], name


MARKDOWN = (
    """---
title: front matter
---
# Access control

## Binding a role

To let the `ci` robot read pods, bind a Role to its ServiceAccount:

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: robot, namespace: ci}]
```

## How authorization works

"""
    + " ".join(["Every request is authenticated first and then authorized by RBAC rules."] * 10)
    + """

## See also

- [Docs](https://example.com)
"""
)


def test_docs_sections_become_yaml_and_concept_examples() -> None:
    sections = docs.split_sections(MARKDOWN)
    assert [s.heading for s in sections] == [
        "Access control", "Binding a role", "How authorization works", "See also",
    ]  # fmt: skip
    parts = [docs.section_parts(s) for s in sections]
    assert len(parts[1].yaml_blocks) == 1 and "bind a Role" in parts[1].prose
    assert not docs.is_concept(parts[1]) and docs.is_concept(parts[2])
    assert not docs.is_concept(parts[3])
    style, request = docs.yaml_request(parts[1], "Access control", "k")
    assert style.startswith("doc-yaml-") and "Binding a role" in request
    style, question = docs.concept_question(parts[2], "", "k")
    assert style.startswith("concept-") and "How authorization works" in question
