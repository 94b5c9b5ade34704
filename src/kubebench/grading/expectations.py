"""Evaluate a task's expectations against the live cluster after an answer was applied.

Two kinds of checks:
- object expectations read one object and run field matchers on it (see `MatchOp` in
  `kubebench.tasks.schema` for each operator's meaning);
- access expectations put SubjectAccessReviews to the API server, with the groups the
  server itself would add for that subject, so any correct RBAC layout passes.

Model mistakes are results, never exceptions: a missing object, a wrong field or a
denied review each becomes a failed `ExpectationResult` with the observed value.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kubebench import defaults
from kubebench.cluster.client import KubeClient
from kubebench.grading.permissions import (
    RulesReviews,
    permissions_result,
    subject_identity,
    subject_text,
    subjects_result,
)
from kubebench.grading.verdict import ExpectationResult
from kubebench.tasks.schema import (
    AccessCheck,
    AccessExpectation,
    FieldMatcher,
    ObjectExpectation,
    PermissionsExpectation,
    SubjectsExpectation,
    Task,
)

__all__ = ["evaluate_expectations", "evaluate_matcher", "subject_identity"]

_MISSING = object()
_PATH_SPLIT = re.compile(r"(?<!\\)\.")


# -- field paths ------------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    """`data.app\\.properties` -> ["data", "app.properties"]."""
    return [part.replace("\\.", ".") for part in _PATH_SPLIT.split(path)] if path else []


def resolve_path(obj: Any, path: str) -> Any:
    """The value at a dotted path, or `_MISSING`; list items are addressed by index."""
    current = obj
    for part in split_path(path):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


# -- matchers ---------------------------------------------------------------------------


def _same_text(observed: Any, expected: Any) -> bool:
    """Equality; multi-line text also matches when it differs only in trailing blanks or
    newlines (a YAML `|` versus `|-` block says the same file)."""
    if observed == expected:
        return True
    if isinstance(observed, str) and isinstance(expected, str) and "\n" in expected:

        def norm(text: str) -> str:
            return "\n".join(line.rstrip() for line in text.rstrip().splitlines())

        return norm(observed) == norm(expected)
    return False


def _hashable(item: Any) -> Any:
    if isinstance(item, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in item.items()))
    if isinstance(item, list):
        return tuple(_hashable(v) for v in item)
    return item


def _as_set(value: Any) -> set[Any] | None:
    if not isinstance(value, list):
        return None
    return {_hashable(v) for v in value}


def _decode_secret_value(obj: dict[str, Any], key: str) -> Any:
    data = obj.get("data") or {}
    if key in data:
        try:
            return base64.b64decode(str(data[key]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return data[key]
    string_data = obj.get("stringData") or {}
    return string_data.get(key, _MISSING)


_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def parse_quantity(text: Any) -> Decimal | None:
    """A Kubernetes resource quantity ("500m", "2Gi", "1.5") as a number, or None."""
    match = _QUANTITY_RE.match(str(text).strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def _registry_host(key: str) -> str:
    host = key.split("://", 1)[-1].rstrip("/")
    return host.removesuffix("/v1").removesuffix("/v2")


def _docker_auth_matches(raw: Any, expected: dict[str, Any]) -> tuple[bool, str]:
    """Does a .dockerconfigjson (or .dockercfg) hold the expected registry credentials?
    Either username/password or the `auth` field (base64 "user:password") counts."""
    try:
        config = json.loads(raw)
    except (TypeError, ValueError):
        return False, "is not valid JSON"
    auths = config.get("auths", config) if isinstance(config, dict) else {}
    if not isinstance(auths, dict):
        return False, "has no auths mapping"
    want_host = _registry_host(str(expected["registry"]))
    for key, entry in auths.items():
        if _registry_host(str(key)) != want_host or not isinstance(entry, dict):
            continue
        user, password = expected.get("username"), expected.get("password")
        if entry.get("username") == user and entry.get("password") == password:
            return True, ""
        try:
            decoded = base64.b64decode(str(entry.get("auth", "")), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if decoded == f"{user}:{password}":
            return True, ""
        return False, f"credentials for {want_host} differ from the requested ones"
    return False, f"has no entry for registry {want_host}"


def evaluate_matcher(obj: dict[str, Any], matcher: FieldMatcher) -> tuple[bool, str, Any]:
    """Run one matcher on an object: (passed, reason when failed, observed value)."""
    op, expected = matcher.op, matcher.value
    if op == "secret_equals":
        observed = _decode_secret_value(obj, matcher.path)
        if observed is _MISSING:
            return False, f"secret key {matcher.path!r} is missing", None
        if _same_text(observed, expected):
            return True, "", observed
        return (
            False,
            f"secret key {matcher.path!r} does not decode to the requested value",
            observed,
        )
    if op == "docker_auth":
        raw = _decode_secret_value(obj, matcher.path)
        if raw is _MISSING:
            return False, f"secret key {matcher.path!r} is missing", None
        ok, why = _docker_auth_matches(raw, expected)
        return ok, "" if ok else f"secret key {matcher.path!r} {why}", raw
    observed = resolve_path(obj, matcher.path)
    shown = None if observed is _MISSING else observed
    if op == "exists":
        ok = observed is not _MISSING and observed is not None
        return ok, "" if ok else f"{matcher.path} is missing", shown
    if op == "absent":
        ok = observed is _MISSING or observed is None
        return ok, "" if ok else f"{matcher.path} is set but should not be", shown
    if observed is _MISSING:
        return False, f"{matcher.path} is missing", None
    if op == "equals":
        ok = _same_text(observed, expected)
        return ok, "" if ok else f"{matcher.path} is {observed!r}, expected {expected!r}", shown
    if op == "contains":
        if not isinstance(observed, dict) or not isinstance(expected, dict):
            return False, f"{matcher.path} is not a mapping", shown
        for key, want in expected.items():
            if key not in observed:
                return False, f"{matcher.path} lacks key {key!r}", shown
            if not _same_text(observed[key], want):
                return (
                    False,
                    f"{matcher.path}[{key!r}] is {observed[key]!r}, expected {want!r}",
                    shown,
                )
        return True, "", shown
    if op == "quantities":
        if not isinstance(observed, dict):
            return False, f"{matcher.path} is not a mapping", shown
        for key, want_q in expected.items():
            have = parse_quantity(observed[key]) if key in observed else None
            if have is None or have != parse_quantity(want_q):
                got_q = observed.get(key)
                return False, f"{matcher.path}[{key!r}] is {got_q!r}, expected {want_q!r}", shown
        return True, "", shown
    got, want = _as_set(observed), _as_set(expected)
    if got is None or want is None:
        return False, f"{matcher.path} is not a list", shown
    if op == "set_equals":
        ok = got == want
        return (
            ok,
            "" if ok else f"{matcher.path} as a set is {observed!r}, expected {expected!r}",
            shown,
        )
    if op == "superset":
        missing = [v for v in expected if _hashable(v) not in got]
        return not missing, f"{matcher.path} lacks {missing!r}" if missing else "", shown
    if op == "subset":
        extra = [v for v in observed if _hashable(v) not in want]
        return not extra, f"{matcher.path} has unexpected {extra!r}" if extra else "", shown
    return False, f"unknown matcher op {op!r}", shown


# -- access checks ----------------------------------------------------------------------


def describe_check(check: AccessCheck) -> str:
    """`get pods/log "web" in ns build` style text for a report."""
    if check.non_resource_url is not None:
        return f"{check.verb} {check.non_resource_url}"
    resource = check.resource + (f"/{check.subresource}" if check.subresource else "")
    if check.group:
        resource += f".{check.group}"
    text = f"{check.verb} {resource}"
    if check.name:
        text += f" {check.name!r}"
    return text + (f" in namespace {check.namespace}" if check.namespace else " cluster-wide")


# -- polling ----------------------------------------------------------------------------


@dataclass
class _Outcome:
    passed: bool
    reason: str
    observed: Any


async def _poll(
    read: Callable[[], Awaitable[_Outcome]], deadline: float, *, retry: bool
) -> _Outcome:
    """Read once; while failing and `retry`, read again until the deadline."""
    outcome = await read()
    while retry and not outcome.passed and time.monotonic() < deadline:
        await asyncio.sleep(defaults.EXPECTATION_POLL_INTERVAL_S)
        outcome = await read()
    return outcome


async def _object_results(
    index: int, exp: ObjectExpectation, kube: KubeClient, deadline: float
) -> list[ExpectationResult]:
    ref = exp.ref
    where = f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}"
    base = exp.description or where
    if exp.absent:
        obj = await kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)
        return [
            ExpectationResult(
                index=index,
                kind="object",
                description=f"{base}: absent",
                passed=obj is None,
                reason="" if obj is None else f"{where} exists but should not",
                observed=None if obj is None else {"metadata": obj.get("metadata")},
            )
        ]

    async def read_all() -> tuple[dict[str, Any] | None, list[_Outcome]]:
        obj = await kube.get(ref.api_version, ref.kind, ref.name, ref.namespace)
        if obj is None:
            return None, []
        return obj, [_Outcome(*evaluate_matcher(obj, m)) for m in exp.matchers]

    obj, outcomes = await read_all()
    # Rules of an aggregated ClusterRole are filled in by a controller: wait for them.
    aggregated = obj is not None and bool(obj.get("aggregationRule"))
    while aggregated and not all(o.passed for o in outcomes) and time.monotonic() < deadline:
        await asyncio.sleep(defaults.EXPECTATION_POLL_INTERVAL_S)
        obj, outcomes = await read_all()
    if obj is None:
        return [
            ExpectationResult(
                index=index,
                kind="object",
                description=base,
                passed=False,
                reason=f"{where} not found",
            )
        ]
    if not exp.matchers:
        return [ExpectationResult(index=index, kind="object", description=base, passed=True)]
    return [
        ExpectationResult(
            index=index,
            kind="object",
            description=f"{base}: {m.description or f'{m.path} {m.op}'}",
            passed=o.passed,
            reason=o.reason,
            observed=o.observed,
        )
        for m, o in zip(exp.matchers, outcomes, strict=True)
    ]


async def _access_result(
    index: int,
    exp: AccessExpectation,
    check: AccessCheck,
    want_allowed: bool,
    kube: KubeClient,
    deadline: float,
) -> ExpectationResult:
    user, groups = subject_identity(exp.subject)

    async def read() -> _Outcome:
        review = await kube.access_review(
            user=user,
            groups=groups,
            verb=check.verb,
            resource=check.resource,
            group=check.group,
            subresource=check.subresource,
            namespace=check.namespace,
            name=check.name,
            non_resource_url=check.non_resource_url,
        )
        passed = review.allowed == want_allowed
        reason = ""
        if not passed:
            reason = "denied but should be allowed" if want_allowed else "allowed but must not be"
            if review.reason:
                reason += f" ({review.reason})"
        return _Outcome(passed, reason, {"allowed": review.allowed, "reason": review.reason})

    # Only grants can lag behind a fresh write, so only "allowed" checks are polled.
    outcome = await _poll(read, deadline, retry=want_allowed)
    verb = "may" if want_allowed else "may not"
    return ExpectationResult(
        index=index,
        kind="access",
        description=f"{subject_text(exp.subject)} {verb} {describe_check(check)}",
        passed=outcome.passed,
        reason=outcome.reason,
        observed=outcome.observed,
    )


async def evaluate_expectations(
    task: Task,
    kube: KubeClient,
    *,
    deadline_s: float = defaults.EXPECTATION_DEADLINE_S,
    answer: Sequence[Mapping[str, Any]] = (),
) -> list[ExpectationResult]:
    """Evaluate every expectation of `task` on the live cluster, concurrently.

    `answer` is the answer's applied objects (Lists expanded): subjects expectations
    read the subjects its bindings name. Checks that fail are re-read until
    `deadline_s` only where the cluster may still be catching up (authorizer cache for
    grants, aggregated ClusterRole rules); everything else costs one request. Denied
    reviews and the subjects check run only after the object checks and the grants
    are seen: an authorizer cache that has not yet seen a too-broad rule would otherwise
    answer "denied" and pass a wrong answer. Results keep the task's expectation order.
    """
    deadline = time.monotonic() + deadline_s
    reviews = RulesReviews(kube)
    first: list[Awaitable[list[ExpectationResult]]] = []
    # Made only once `first` is done (a coroutine made and never awaited, when the
    # attempt is cancelled meanwhile, would warn).
    later: list[Callable[[], Awaitable[list[ExpectationResult]]]] = []
    for index, exp in enumerate(task.expectations):
        if isinstance(exp, ObjectExpectation):
            first.append(_object_results(index, exp, kube, deadline))
            later.append(_nothing)
        elif isinstance(exp, PermissionsExpectation):
            first.append(_one(permissions_result(index, exp, task, reviews, deadline)))
            later.append(_nothing)
        elif isinstance(exp, SubjectsExpectation):
            first.append(_nothing())
            later.append(functools.partial(_subjects, index, exp, answer, reviews))
        else:
            first.append(_access_results(index, exp, exp.allowed, True, kube, deadline))
            later.append(
                functools.partial(_access_results, index, exp, exp.denied, False, kube, deadline)
            )
    done = await asyncio.gather(*first)
    after = await asyncio.gather(*(make() for make in later))
    return [r for before, then in zip(done, after, strict=True) for r in (*before, *then)]


async def _one(result: Awaitable[ExpectationResult]) -> list[ExpectationResult]:
    return [await result]


async def _access_results(
    index: int,
    exp: AccessExpectation,
    checks: list[AccessCheck],
    want_allowed: bool,
    kube: KubeClient,
    deadline: float,
) -> list[ExpectationResult]:
    return list(
        await asyncio.gather(
            *(_access_result(index, exp, c, want_allowed, kube, deadline) for c in checks)
        )
    )


async def _nothing() -> list[ExpectationResult]:
    return []


async def _subjects(
    index: int, exp: SubjectsExpectation, answer: Sequence[Mapping[str, Any]], reviews: RulesReviews
) -> list[ExpectationResult]:
    return [await subjects_result(index, exp, answer, reviews)]
