"""The baseline `kubebench bench grading` compares against: grading one task at a time by
shelling out to kubectl, the way CloudEval-YAML's evaluation scripts do.

Per task: `kubectl apply -f` the task's setup, `kubectl apply --dry-run=server -f` and
`kubectl apply -f` the answer, `kubectl get -o json` per expected object (checked with
the same field matchers the real grader uses), `kubectl auth can-i` per access check,
`kubectl create -f` of a SelfSubjectRulesReview with `--as`/`--as-group` per identity
and namespace an exact-permissions or subjects check needs (compared by the grader's
own functions), then `kubectl delete -f` the answer and the setup — waiting for the
deletion as kubectl does by default, or not (`wait=False`: `--wait=false`). Only the
benchmark uses this; the product never needs kubectl.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubebench import defaults
from kubebench.grading.expectations import evaluate_matcher
from kubebench.grading.permissions import (
    CLUSTER,
    Permission,
    binding_subjects,
    expected_permissions,
    grant_differences,
    review_namespace,
    rule_permissions,
    subject_identity,
    twin_identity,
)
from kubebench.tasks.schema import (
    AccessCheck,
    AccessExpectation,
    ObjectExpectation,
    PermissionsExpectation,
    SubjectsExpectation,
    Task,
)


@dataclass
class BaselineAttempt:
    task_id: str
    passed: bool
    reason: str = ""
    seconds: float = 0.0
    kubectl_calls: int = 0


@dataclass
class BaselineResult:
    attempts: list[BaselineAttempt] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def passed(self) -> int:
        return sum(a.passed for a in self.attempts)

    @property
    def attempts_per_s(self) -> float:
        return len(self.attempts) / self.seconds if self.seconds else 0.0

    @property
    def kubectl_calls(self) -> int:
        return sum(a.kubectl_calls for a in self.attempts)


class _Kubectl:
    def __init__(self, kubectl: str, kubeconfig: Path, result: BaselineResult) -> None:
        self.base = [kubectl, f"--kubeconfig={kubeconfig}"]
        self.result = result
        self.calls = 0
        self._served: set[tuple[str, str]] | None = None

    def served(self) -> set[tuple[str, str]]:
        """(group, plural) of every served resource, from `kubectl api-resources` once."""
        if self._served is None:
            got = self("api-resources", "api-resources", "--no-headers", "-o", "name")
            self._served = set()
            for name in got.stdout.split():
                plural, _, group = name.partition(".")
                self._served.add((group, plural))
        return self._served

    def permissions(self, user: str, groups: list[str], scope: str) -> set[Permission]:
        """A SelfSubjectRulesReview created as `user` in `groups`, as permissions."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": review_namespace(scope)},
        }
        identity = [f"--as={user}", *(f"--as-group={g}" for g in groups)]
        got = self(
            "create selfsubjectrulesreview",
            "create",
            "-f",
            "-",
            "-o",
            "json",
            *identity,
            stdin=json.dumps(review),
        )
        status = json.loads(got.stdout or "{}").get("status", {})
        rules = [*(status.get("resourceRules") or []), *(status.get("nonResourceRules") or [])]
        return {p for rule in rules for p in rule_permissions(rule)}

    def __call__(
        self, step: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        self.calls += 1
        try:
            return subprocess.run(
                [*self.base, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=defaults.KUBECTL_TIMEOUT_S,
            )
        finally:
            self.result.step_seconds[step] += time.monotonic() - started


def _resource_arg(api_version: str, kind: str) -> str:
    """`kind.version.group` (kubectl's fully qualified form), or the kind for core/v1."""
    group, _, version = api_version.rpartition("/")
    return f"{kind.lower()}.{version}.{group}" if group else kind.lower()


def _can_i_args(check: AccessCheck, user: str, groups: list[str]) -> list[str]:
    if check.non_resource_url is not None:
        args = ["auth", "can-i", check.verb, check.non_resource_url]
    else:
        resource = check.resource + (f".{check.group}" if check.group else "")
        # TYPE/NAME is how can-i names one object: a subresource needs its own flag.
        args = ["auth", "can-i", check.verb, f"{resource}/{check.name}" if check.name else resource]
        if check.subresource:
            args.append(f"--subresource={check.subresource}")
        if check.namespace:
            args.append(f"--namespace={check.namespace}")
        else:
            args.append("--all-namespaces")
    args.append(f"--as={user}")
    args += [f"--as-group={g}" for g in groups]
    return args


def _exact_permissions(kubectl: _Kubectl, task: Task, exp: PermissionsExpectation) -> str:
    """The grader's exact-permissions check, with kubectl-created rules reviews."""
    user, groups = subject_identity(exp.subject)
    twin_user, twin_groups = twin_identity(exp.subject)
    expected = expected_permissions(exp, task)
    deadline = time.monotonic() + defaults.EXPECTATION_DEADLINE_S
    baseline = kubectl.permissions(twin_user, twin_groups, CLUSTER)
    while True:
        observed = {s: kubectl.permissions(user, groups, s) - baseline for s in expected}
        if not any(expected[s] - observed[s] for s in expected):
            break
        if time.monotonic() > deadline:
            break
    extra, unseen = grant_differences(expected, observed, kubectl.served())
    if extra:
        scope, permission = extra[0]
        return f"extra permission: {permission.describe(scope)}"
    for scope, permission in unseen:
        check = AccessCheck(
            verb=permission.verb,
            resource=permission.resource.partition("/")[0],
            subresource=permission.resource.partition("/")[2],
            group=permission.api_group,
            namespace=scope,
            name=permission.name,
            non_resource_url=permission.url or None,
        )
        got = kubectl("auth can-i", *_can_i_args(check, user, groups))
        if got.stdout.strip() != "yes":
            return f"missing permission: {permission.describe(scope)}"
    return ""


def _only_allowed_subjects(kubectl: _Kubectl, answer: str, exp: SubjectsExpectation) -> str:
    """The grader's subjects check: the answer's bindings read back with `kubectl get`."""
    objects = []
    for doc in yaml.safe_load_all(answer):
        if doc and doc.get("kind") in ("RoleBinding", "ClusterRoleBinding"):
            args = ["get", _resource_arg(doc["apiVersion"], doc["kind"]), doc["metadata"]["name"]]
            if ns := doc["metadata"].get("namespace"):
                args.append(f"--namespace={ns}")
            got = kubectl("get", *args, "-o", "json")
            if got.returncode == 0:
                objects.append(json.loads(got.stdout))
    for subject, scope in binding_subjects(objects):
        if any(
            (subject.kind, subject.name, subject.namespace) == (a.kind, a.name, a.namespace)
            for a in exp.allowed
        ):
            continue
        user, groups = subject_identity(subject)
        twin_user, twin_groups = twin_identity(subject)
        gained = kubectl.permissions(user, groups, scope) - kubectl.permissions(
            twin_user, twin_groups, CLUSTER
        )
        if gained:
            return f"{subject.kind} {subject.name} also gains access"
    return ""


def _check_expectations(kubectl: _Kubectl, task: Task, answer: str) -> str:
    """The first failed expectation's reason, or "" when all hold."""
    for exp in task.expectations:
        if isinstance(exp, PermissionsExpectation):
            if reason := _exact_permissions(kubectl, task, exp):
                return reason
            continue
        if isinstance(exp, SubjectsExpectation):
            if reason := _only_allowed_subjects(kubectl, answer, exp):
                return reason
            continue
        if isinstance(exp, ObjectExpectation):
            ref = exp.ref
            args = ["get", _resource_arg(ref.api_version, ref.kind), ref.name, "-o", "json"]
            if ref.namespace:
                args.append(f"--namespace={ref.namespace}")
            got = kubectl("get", *args)
            if exp.absent:
                if got.returncode == 0:
                    return f"{ref.kind} {ref.name} exists but should not"
                continue
            if got.returncode != 0:
                return f"{ref.kind} {ref.name}: {got.stderr.strip()}"
            obj = json.loads(got.stdout)
            for matcher in exp.matchers:
                ok, why, _ = evaluate_matcher(obj, matcher)
                if not ok:
                    return why
        elif isinstance(exp, AccessExpectation):
            user, groups = subject_identity(exp.subject)
            for check, want in [(c, True) for c in exp.allowed] + [(c, False) for c in exp.denied]:
                got = kubectl("auth can-i", *_can_i_args(check, user, groups))
                allowed = got.stdout.strip() == "yes"
                if allowed != want:
                    verdict = "allowed" if allowed else "denied"
                    what = check.non_resource_url or "/".join(
                        part for part in (check.resource, check.subresource) if part
                    )
                    return f"{check.verb} {what}: {verdict}"
    return ""


def grade_with_kubectl(
    kubectl: _Kubectl, task: Task, answer: str, workdir: Path, *, wait: bool = True
) -> str:
    """Grade one answer the kubectl way; "" when it passes, else the first failure.
    `wait=False` deletes with `--wait=false` (kubectl returns before finalization)."""
    setup = workdir / "setup.yaml"
    answer_file = workdir / "answer.yaml"
    setup.write_text(yaml.safe_dump_all(task.setup) if task.setup else "")
    answer_file.write_text(answer)
    try:
        if task.setup:
            got = kubectl("apply setup", "apply", "-f", str(setup))
            if got.returncode != 0:
                return f"setup failed: {got.stderr.strip()}"
        got = kubectl("apply --dry-run=server", "apply", "--dry-run=server", "-f", str(answer_file))
        if got.returncode != 0:
            return f"dry-run: {got.stderr.strip()}"
        got = kubectl("apply", "apply", "-f", str(answer_file))
        if got.returncode != 0:
            return f"apply: {got.stderr.strip()}"
        return _check_expectations(kubectl, task, answer)
    finally:
        no_wait = [] if wait else ["--wait=false"]
        kubectl("delete", "delete", "--ignore-not-found", *no_wait, "-f", str(answer_file))
        if task.setup:
            kubectl("delete", "delete", "--ignore-not-found", *no_wait, "-f", str(setup))


def run_kubectl_baseline(
    kubectl: str,
    kubeconfig: Path,
    items: list[tuple[Task, str]],
    *,
    on_attempt: object = None,
    wait: bool = True,
) -> BaselineResult:
    """Grade (task, answer) pairs one after another through kubectl (`wait=False`:
    deletes do not wait for finalization)."""
    result = BaselineResult()
    runner = _Kubectl(kubectl, kubeconfig, result)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kubebench-kubectl-") as tmp:
        for task, answer in items:
            t0, calls0 = time.monotonic(), runner.calls
            reason = grade_with_kubectl(runner, task, answer, Path(tmp), wait=wait)
            result.attempts.append(
                BaselineAttempt(
                    task.id,
                    passed=not reason,
                    reason=reason,
                    seconds=time.monotonic() - t0,
                    kubectl_calls=runner.calls - calls0,
                )
            )
            if callable(on_attempt):
                on_attempt()
    result.seconds = time.monotonic() - started
    if not wait:
        # Untimed: namespaces still finalizing would look foreign to the next grader.
        names = sorted({f"namespace/{ns}" for task, _ in items for ns in task.namespaces})
        if names:
            timeout = f"--timeout={int(defaults.CLEANUP_TIMEOUT_S)}s"
            subprocess.run(
                [*runner.base, "wait", "--for=delete", timeout, *names],
                capture_output=True,
                timeout=defaults.CLEANUP_TIMEOUT_S + defaults.KUBECTL_TIMEOUT_S,
            )
    return result
