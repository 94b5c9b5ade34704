"""The baseline `kubebench bench grading` compares against: grading one task at a time by
shelling out to kubectl, the way CloudEval-YAML's evaluation scripts do.

Per task: `kubectl apply -f` the task's setup, `kubectl apply --dry-run=server -f` and
`kubectl apply -f` the answer, `kubectl get -o json` per expected object (checked with
the same field matchers the real grader uses), `kubectl auth can-i` per access check,
then `kubectl delete -f` the answer and the setup. Only the benchmark uses this; the
product never needs kubectl.
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
from kubebench.grading.expectations import evaluate_matcher, subject_identity
from kubebench.tasks.schema import AccessCheck, AccessExpectation, ObjectExpectation, Task


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

    def __call__(self, step: str, *args: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        self.calls += 1
        try:
            return subprocess.run(
                [*self.base, *args],
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


def _check_expectations(kubectl: _Kubectl, task: Task) -> str:
    """The first failed expectation's reason, or "" when all hold."""
    for exp in task.expectations:
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


def grade_with_kubectl(kubectl: _Kubectl, task: Task, answer: str, workdir: Path) -> str:
    """Grade one answer the kubectl way; "" when it passes, else the first failure."""
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
        return _check_expectations(kubectl, task)
    finally:
        kubectl("delete", "delete", "--ignore-not-found", "-f", str(answer_file))
        if task.setup:
            kubectl("delete", "delete", "--ignore-not-found", "-f", str(setup))


def run_kubectl_baseline(
    kubectl: str,
    kubeconfig: Path,
    items: list[tuple[Task, str]],
    *,
    on_attempt: object = None,
) -> BaselineResult:
    """Grade (task, answer) pairs one after another through kubectl."""
    result = BaselineResult()
    runner = _Kubectl(kubectl, kubeconfig, result)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kubebench-kubectl-") as tmp:
        for task, answer in items:
            t0, calls0 = time.monotonic(), runner.calls
            reason = grade_with_kubectl(runner, task, answer, Path(tmp))
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
    return result
