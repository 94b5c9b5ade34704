"""Several `kubebench grade` processes on one detached control plane: colliding tasks
never get a false verdict, and a SIGKILLed grade's leftovers (generateName objects
included) are swept by the next one to start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.cluster.kubeconfig import load_kubeconfig
from kubebench.cluster.state import ClusterState
from kubebench.grading.grader_lease import LEASE_NAME, LEASE_NAMESPACE
from kubebench.tasks.schema import Task
from tests.grading.builders import configmap_task, configmap_yaml, namespace_obj
from tests.grading.conftest import cluster_objects

KUBEBENCH = [sys.executable, "-m", "kubebench.cli.main"]
ROUNDS = int(os.environ.get("KUBEBENCH_CROSS_PROCESS_ROUNDS", "5"))  # 4 processes each


@pytest.fixture(scope="module")
def detached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`kubebench cluster up --detach` in a private state folder; the environment that
    makes `kubebench grade` use it."""
    state = tmp_path_factory.mktemp("detached-state")
    env = {**os.environ, "KUBEBENCH_STATE_DIR": str(state), "COLUMNS": "200"}
    up = subprocess.run(
        [*KUBEBENCH, "cluster", "up", "--detach"], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    try:
        yield env
    finally:
        subprocess.run([*KUBEBENCH, "cluster", "down"], env=env, timeout=120, capture_output=True)


@pytest.fixture
async def detached_kube(detached: dict[str, str]) -> AsyncIterator[KubeClient]:
    state = ClusterState.model_validate_json(
        (Path(detached["KUBEBENCH_STATE_DIR"]) / "cluster.json").read_text()
    )
    async with KubeClient(load_kubeconfig(Path(state.kubeconfig))) as kube:
        yield kube


def _grade(
    env: dict[str, str], folder: Path, task: Task, answer: str, tag: str
) -> subprocess.Popen:
    task_file = folder / f"{tag}.task.json"
    task_file.write_text(task.model_dump_json())
    answer_file = folder / f"{tag}.answer.yaml"
    answer_file.write_text(answer)
    return subprocess.Popen(
        [*KUBEBENCH, "grade", "--task-file", str(task_file), "--answer", str(answer_file),
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _finish(proc: subprocess.Popen) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, json.loads(out) if out.strip().startswith("{") else {}, err


async def test_concurrent_grades_of_colliding_tasks_never_give_a_false_verdict(
    detached: dict[str, str], detached_kube: KubeClient, tmp_path: Path
) -> None:
    before = await cluster_objects(detached_kube)
    task = configmap_task("gx-collide")
    sibling = configmap_task("gx-collide", name="other-config", task_id="test-gx-sibling")
    # Four at once on one namespace: the right answer, two wrong ones (a wrong name
    # passes if it sees the right answer's object; before the Lease, 3 of 20 such
    # grades were false), and a second task that shares the namespace.
    jobs = [
        (task, configmap_yaml("gx-collide"), 0, "passed"),
        (task, configmap_yaml("gx-collide", name="other"), 1, "expectations"),
        (task, configmap_yaml("gx-collide", mode="slow"), 1, "expectations"),
        (sibling, configmap_yaml("gx-collide", name="other-config"), 0, "passed"),
    ]
    wrong: list[str] = []
    for i in range(ROUNDS):
        order = jobs[i % 4 :] + jobs[: i % 4]
        procs = [
            _grade(detached, tmp_path, t, a, f"r{i}-{n}") for n, (t, a, _, _) in enumerate(order)
        ]
        results = await asyncio.gather(*(asyncio.to_thread(_finish, p) for p in procs))
        for (_, _, code, stage), (rc, verdict, err) in zip(order, results, strict=True):
            if rc != code or verdict.get("stage") != stage:
                wrong.append(f"round {i}: exit {rc}, {verdict.get('stage')}: "
                             f"{verdict.get('reason')} {err.strip()[-300:]}")  # fmt: skip
    assert wrong == [], wrong
    assert await cluster_objects(detached_kube) == before
    lease = await detached_kube.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{LEASE_NAME}"
    )
    assert lease.ok and not (lease.body or {})["spec"].get("holderIdentity")  # given back


def _sweep_task() -> Task:
    """A task whose expectation an answer of generateName objects never meets, so the
    grade keeps polling (EXPECTATION_DEADLINE_S) while the test kills it."""
    ns = "gx-sweep"
    return Task.model_validate(
        {
            "id": "test-gx-sweep",
            "category": "ClusterRole",
            "tier": "basic",
            "prompt": "Create ClusterRole gx-sweep and ConfigMap settings in gx-sweep.",
            "setup": [namespace_obj(ns)],
            "allowed_kinds": ["ClusterRole", "ConfigMap"],
            "namespaces": [ns],
            "expectations": [
                {  # an allowed check that fails is read again until the deadline
                    "type": "access",
                    "subject": {"kind": "User", "name": "gx-nobody"},
                    "allowed": [{"verb": "list", "resource": "pods", "namespace": ns}],
                }
            ],
            "reference": (
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                "metadata:\n  name: gx-sweep\nrules: []\n"
            ),
        }
    )


GENERATED = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  generateName: gx-sweep-
rules: []
---
apiVersion: v1
kind: ConfigMap
metadata:
  generateName: settings-
  namespace: gx-sweep
data: {mode: fast}
"""


async def _labelled(kube: KubeClient) -> list[str]:
    params = {"labelSelector": defaults.ATTEMPT_LABEL}
    found = []
    for path in ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "/api/v1/namespaces"):
        resp = await kube.request("GET", path, params=params)
        found += [item["metadata"]["name"] for item in (resp.body or {}).get("items", [])]
    return sorted(found)


async def test_a_sigkilled_grades_leftovers_are_swept_at_the_next_start(
    detached: dict[str, str], detached_kube: KubeClient, tmp_path: Path
) -> None:
    before = await cluster_objects(detached_kube)
    killed = _grade(detached, tmp_path, _sweep_task(), GENERATED, "killed")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if any(name.startswith("gx-sweep-") for name in await _labelled(detached_kube)):
            break
        await asyncio.sleep(0.05)
    assert killed.poll() is None, killed.communicate()
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = await _labelled(detached_kube)
    assert "gx-sweep" in left and any(n.startswith("gx-sweep-") for n in left), left

    canary = configmap_task("gx-canary")
    rc, verdict, err = await asyncio.to_thread(
        _finish, _grade(detached, tmp_path, canary, canary.reference, "next")
    )
    assert rc == 0 and verdict["stage"] == "passed", err
    assert await _labelled(detached_kube) == []
    assert await cluster_objects(detached_kube) == before
