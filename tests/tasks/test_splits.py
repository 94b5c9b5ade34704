"""The shipped splits: sizes, determinism, file format, and prompt/check consistency."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kubebench.errors import UserError
from kubebench.tasks.authoring.generator import cell_sizes, generate_split
from kubebench.tasks.authoring.pools import DEV_POOLS, TEST_POOLS
from kubebench.tasks.authoring.publish import task_json_schema, write_shipped_files
from kubebench.tasks.loader import (
    CANARY_GUID,
    get_task,
    load_tasks,
    split_path,
    task_set_hash,
    task_to_line,
)
from kubebench.tasks.schema import (
    SCHEMA_VERSION,
    AccessExpectation,
    Kind,
    ObjectExpectation,
    PermissionsExpectation,
    SubjectsExpectation,
    Task,
    Tier,
)

REPO = Path(__file__).resolve().parents[2]
ID_RE = re.compile(
    r"^(dev-)?(namespace|configmap|secret|serviceaccount|role|rolebinding|"
    r"clusterrole|clusterrolebinding)-(basic|intermediate|advanced)-\d{3}$"
)


def test_test_split_has_810_tasks_in_24_cells_of_33_or_34() -> None:
    tasks = load_tasks("test")
    assert len(tasks) == 810
    cells = Counter((t.category, t.tier) for t in tasks)
    assert set(cells) == {(k, t) for k in Kind for t in Tier}
    assert set(cells.values()) <= {33, 34}


def test_dev_split_is_large_enough_and_prefixed() -> None:
    tasks = load_tasks("dev")
    assert len(tasks) >= 240
    assert all(t.id.startswith("dev-") for t in tasks)
    assert len(Counter((t.category, t.tier) for t in tasks)) == 24


def test_cell_sizes_spread_evenly() -> None:
    sizes = cell_sizes(810)
    assert sum(sizes.values()) == 810 and max(sizes.values()) - min(sizes.values()) <= 1


@pytest.mark.parametrize("split", ["test", "dev"])
def test_ids_are_unique_and_well_formed(split: str) -> None:
    ids = [t.id for t in load_tasks(split)]
    assert len(ids) == len(set(ids))
    assert all(ID_RE.match(i) for i in ids), [i for i in ids if not ID_RE.match(i)][:3]


@pytest.mark.parametrize("split", ["test", "dev"])
def test_shipped_file_equals_a_fresh_generation(split: str) -> None:
    fresh = "".join(task_to_line(t) + "\n" for t in generate_split(split))
    assert split_path(split).read_text(encoding="utf-8") == fresh


def test_generate_writes_identical_files(tmp_path: Path) -> None:
    write_shipped_files(tmp_path)
    for name in ("test.jsonl", "dev.jsonl", "task.schema.json"):
        assert (tmp_path / name).read_bytes() == split_path("test").with_name(name).read_bytes()


def test_json_schema_file_is_current() -> None:
    shipped = json.loads(split_path("test").with_name("task.schema.json").read_text())
    assert shipped == task_json_schema()
    assert "value_json" in shipped["$defs"]["FieldMatcher"]["properties"]


@pytest.mark.parametrize("split", ["test", "dev"])
def test_every_line_has_the_canary_and_the_same_keys_and_types(split: str) -> None:
    lines = split_path(split).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert all(r["canary"] == CANARY_GUID for r in records)
    assert all(r["schema_version"] == SCHEMA_VERSION == 2 for r in records)
    assert len({tuple(r) for r in records}) == 1
    types = {k: {type(r[k]).__name__ for r in records} for k in records[0]}
    assert all(len(v) == 1 for v in types.values()), types
    assert {type(s) for r in records for s in r["setup"]} <= {str}
    matcher_values = [
        m["value_json"] for r in records for e in r["expectations"] for m in e.get("matchers", [])
    ]
    assert matcher_values and all(isinstance(v, str) for v in matcher_values)


def test_canary_is_published_in_the_docs() -> None:
    assert CANARY_GUID in (REPO / "docs" / "tasks.md").read_text(encoding="utf-8")


def test_datasets_loads_both_files(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    for split, size in (("test", 810), ("dev", len(load_tasks("dev")))):
        ds = datasets.load_dataset(
            "json", data_files=str(split_path(split)), split="train", cache_dir=str(tmp_path)
        )
        assert ds.num_rows == size
        assert ds[0]["canary"] == CANARY_GUID
        assert isinstance(ds[0]["expectations"][0]["matchers"], list)


def test_get_task_and_unknown_ids() -> None:
    assert get_task("role-advanced-017").category == Kind.Role
    assert get_task("dev-secret-basic-001").category == Kind.Secret
    with pytest.raises(UserError, match="unknown task id") as info:
        get_task("role-advanced-999")
    assert "role-advanced-" in (info.value.hint or "")


def test_task_set_hash_is_order_independent_and_content_sensitive() -> None:
    tasks = load_tasks("test")[:20]
    assert task_set_hash(tasks) == task_set_hash(list(reversed(tasks)))
    changed = [tasks[0].model_copy(update={"prompt": tasks[0].prompt + "!"}), *tasks[1:]]
    assert task_set_hash(changed) != task_set_hash(tasks)


def test_pools_of_the_splits_are_disjoint() -> None:
    for field in ("teams", "apps", "first_names", "last_names", "bots", "registries", "domains"):
        shared = set(getattr(TEST_POOLS, field)) & set(getattr(DEV_POOLS, field))
        assert not shared, (field, shared)


# -- prompt and checks agree ---------------------------------------------------------------


def _reference_objects(task: Task) -> list[dict]:
    return [d for d in yaml.safe_load_all(task.reference) if d]


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]


def _unasserted_mentions(task: Task) -> list[str]:
    """Names and values a check asserts that the prompt does not contain."""
    prompt = task.prompt
    missing = []
    for exp in task.expectations:
        if isinstance(exp, ObjectExpectation):
            for name in (exp.ref.name, exp.ref.namespace):
                if name and name not in prompt:
                    missing.append(name)
            for m in exp.matchers:
                if m.op in ("exists", "absent") or m.path in ("type", "immutable"):
                    continue
                if m.path.startswith("roleRef.kind") or m.path == "spec.limits.0.type":
                    continue
                for text in _strings(m.value):
                    for line in text.strip().splitlines():
                        if line.strip() and line.strip() not in prompt:
                            missing.append(line.strip())
        elif isinstance(exp, AccessExpectation):
            subject = exp.subject
            if not subject.name.startswith("kubebench:probe:") and subject.name not in prompt:
                missing.append(subject.name)
            if subject.namespace and subject.namespace not in prompt:
                missing.append(subject.namespace)
            for c in exp.allowed:
                for text in (c.namespace, c.name, c.non_resource_url):
                    if text and text not in prompt:
                        missing.append(text)
        elif isinstance(exp, PermissionsExpectation):
            subject = exp.subject
            if not subject.name.startswith("kubebench:probe:") and subject.name not in prompt:
                missing.append(subject.name)
            for scope in exp.scopes:
                if scope.namespace and scope.namespace not in prompt:
                    missing.append(scope.namespace)
                for rule in scope.rules:
                    missing += [
                        t
                        for t in (*rule.resource_names, *rule.non_resource_urls)
                        if t not in prompt
                    ]
        elif isinstance(exp, SubjectsExpectation):
            missing += [s.name for s in exp.allowed if s.name not in prompt]
    return missing


@pytest.mark.parametrize("split", ["test", "dev"])
def test_every_asserted_name_and_value_appears_in_the_prompt(split: str) -> None:
    problems = {t.id: _unasserted_mentions(t) for t in load_tasks(split)}
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, list(problems.items())[:5]


@pytest.mark.parametrize("split", ["test", "dev"])
def test_scope_fields_match_the_reference(split: str) -> None:
    for task in load_tasks(split):
        objects = _reference_objects(task)
        assert sorted({o["kind"] for o in objects}) == task.allowed_kinds, task.id
        namespaces = {o["metadata"].get("namespace") for o in objects} - {None}
        namespaces |= {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
        assert namespaces == set(task.namespaces), task.id
        setup_ns = {o["metadata"]["name"] for o in task.setup if o["kind"] == "Namespace"}
        for o in objects:
            ns = o["metadata"].get("namespace")
            created_here = any(
                x["kind"] == "Namespace" and x["metadata"]["name"] == ns for x in objects
            )
            assert ns is None or ns in setup_ns or created_here, (task.id, ns)


def _owned_names(task: Task) -> set[str]:
    names = set()
    for o in [*task.setup, *_reference_objects(task)]:
        md = o["metadata"]
        if o["kind"] == "Namespace":
            names.add(f"ns/{md['name']}")
        elif "namespace" not in md:
            names.add(f"{o['kind']}/{md['name']}")
    for o in _reference_objects(task):
        if ns := o["metadata"].get("namespace"):
            names.add(f"ns/{ns}")
    return names


@pytest.mark.parametrize("split", ["test", "dev"])
def test_tasks_share_no_namespace_or_cluster_scoped_name(split: str) -> None:
    seen: dict[str, str] = {}
    for task in load_tasks(split):
        for name in _owned_names(task):
            assert name not in seen, (name, seen.get(name), task.id)
            seen[name] = task.id


def test_advanced_rbac_tasks_prove_what_is_forbidden() -> None:
    rbac = {Kind.Role, Kind.ClusterRole, Kind.ServiceAccount, Kind.ClusterRoleBinding}
    for task in load_tasks("test"):
        if task.tier == Tier.advanced and task.category in rbac:
            denied = [
                c for e in task.expectations if isinstance(e, AccessExpectation) for c in e.denied
            ]
            assert denied, task.id


_GLITCHES = re.compile(
    r"\b(It should|Please|Make sure to|It needs to) (it|its|it's)\b"  # "It should it grants"
    r"|\b(\w+) \3\b"  # a doubled word outside code
)


@pytest.mark.parametrize("split", ["test", "dev"])
def test_prompts_have_no_template_glitches(split: str) -> None:
    """Doubled words and a chatty lead followed by a clause starting with "it"; code
    spans and fenced blocks (file contents) are left out."""
    found = []
    for task in load_tasks(split):
        text = re.sub(r"```.*?```", "", task.prompt, flags=re.S)
        text = re.sub(r"`[^`]*`", "\u00b7", text)
        found += [(task.id, m.group(0)) for m in _GLITCHES.finditer(text)]
    assert not found, found[:10]


def _grants_rules(task: Task) -> bool:
    """The reference or the setup holds a Role or ClusterRole somebody is granted."""
    objects = [*task.setup, *_reference_objects(task)]
    return any(o["kind"] in ("Role", "ClusterRole") for o in objects)


@pytest.mark.parametrize("split", ["test", "dev"])
def test_tasks_that_name_their_grant_check_it_exactly(split: str) -> None:
    """Every task granting spelled-out rules has an exact-permissions expectation; every
    task whose answer writes a binding checks who gains access; built-in roles (whose
    rules the prompt does not spell out) keep their sampled access checks."""
    for task in load_tasks(split):
        kinds = {type(e) for e in task.expectations}
        binds = any(
            o["kind"] in ("RoleBinding", "ClusterRoleBinding") for o in _reference_objects(task)
        )
        if _grants_rules(task):
            assert PermissionsExpectation in kinds, task.id
        elif binds:
            assert (AccessExpectation in kinds and "builtin-role" in task.tags) or (
                "multi-namespace" in task.tags
            ), task.id
        if binds:
            assert SubjectsExpectation in kinds, task.id
