"""apiVersions against the real server's discovery, and server-side dry-run buckets."""

from __future__ import annotations

import time

from kubebench.cluster.client import KubeClient
from kubebench.data.validation import (
    ServedApis,
    delete_namespace,
    dry_run_batch,
    ensure_namespace,
)

NS = "kubebench-data-test"


async def test_api_versions_by_discovery(kube: KubeClient) -> None:
    apis = ServedApis(await kube.discover())
    assert apis.classify("v1", "ConfigMap").status == "served"
    assert apis.classify("rbac.authorization.k8s.io/v1", "ClusterRole").status == "served"
    for api_version, kind in (
        ("rbac.authorization.k8s.io/v1beta1", "Role"),
        ("extensions/v1beta1", "Ingress"),
        ("batch/v1beta1", "CronJob"),
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"),
    ):
        verdict = apis.classify(api_version, kind)
        assert verdict.status == "removed", (api_version, kind, verdict)
    crd = apis.classify("monitoring.coreos.com/v1", "ServiceMonitor")
    assert crd.status == "unknown" and "custom resource" in crd.reason
    assert apis.classify("kustomize.config.k8s.io/v1beta1", "Kustomization").status == "unknown"


async def test_dry_run_passes_valid_objects_and_buckets_failures(kube: KubeClient) -> None:
    apis = ServedApis(await kube.discover())
    await ensure_namespace(kube, NS)
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "ok", "namespace": "does-not-exist"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dta": {"a": "b"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": []}]},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "kubebench-data-dry-run-only"}, "rules": []},
        # Admitted only with the namespace's `default` ServiceAccount (no controller
        # makes it on KubeBench's control plane: ensure_namespace does).
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
         "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}},
    ]  # fmt: skip
    items = [(o, apis.classify(o["apiVersion"], o["kind"]).info) for o in objects]
    results = await dry_run_batch(kube, items, NS)  # type: ignore[arg-type]
    assert [r.ok for r in results] == [True, False, False, True, True, True], results[-1]
    assert results[1].reason.startswith("BadRequest: strict decoding error: unknown field")
    assert results[2].reason.startswith("Invalid: rules[N].verbs: Required value")
    # Dry-run wrote nothing.
    assert await kube.get("rbac.authorization.k8s.io/v1", "ClusterRole",
                          "kubebench-data-dry-run-only") is None  # fmt: skip
    await delete_namespace(kube, NS)


async def test_dry_run_throughput(kube: KubeClient) -> None:
    apis = ServedApis(await kube.discover())
    await ensure_namespace(kube, f"{NS}-rate")
    info = apis.classify("v1", "ConfigMap").info
    objects = [
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
          "data": {"k": str(i)}}, info)
        for i in range(600)
    ]  # fmt: skip
    start = time.perf_counter()
    results = await dry_run_batch(kube, objects, f"{NS}-rate", concurrency=48)  # type: ignore[arg-type]
    rate = len(objects) / (time.perf_counter() - start)
    print(f"dry-run: {rate:.0f} objects/s")
    assert all(r.ok for r in results)
    await delete_namespace(kube, f"{NS}-rate")
