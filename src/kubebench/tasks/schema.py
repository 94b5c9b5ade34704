"""The task schema: pydantic models at the file edge, with a published JSON Schema.

One task is one request an engineer would make, plus the objects the harness creates
first (`setup`), the kinds and namespaces an answer may touch, and expectations checked
on the live cluster after the answer is applied. Expectations are semantic, never
textual: see `kubebench.grading.expectations` for how each matcher is evaluated.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

# 2: permissions and subjects expectations (exact RBAC grants, who gains access).
SCHEMA_VERSION = 2


class Kind(StrEnum):
    """The eight foundational kinds of v1, in the order reports list them."""

    Namespace = "Namespace"
    ConfigMap = "ConfigMap"
    Secret = "Secret"
    ServiceAccount = "ServiceAccount"
    Role = "Role"
    RoleBinding = "RoleBinding"
    ClusterRole = "ClusterRole"
    ClusterRoleBinding = "ClusterRoleBinding"


class Tier(StrEnum):
    basic = "basic"
    intermediate = "intermediate"
    advanced = "advanced"


class Operation(StrEnum):
    create = "create"  # read/update/delete/cli come later


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObjectRef(_Strict):
    """Which object an expectation is about."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None


MatchOp = Literal[
    "equals",  # value at path == value
    "contains",  # mapping at path contains every key/value of value (labels, data, ...)
    "set_equals",  # list at path, as a set, equals value (order and duplicates ignored)
    "superset",  # list at path, as a set, includes every item of value
    "subset",  # list at path, as a set, has no item outside value
    "exists",  # path is present (value ignored)
    "absent",  # path is missing or null (value ignored)
    "secret_equals",  # Secret key `path` (under data/stringData) decodes to value
    "quantities",  # mapping at path holds every key of value, equal as resource quantities
    "docker_auth",  # Secret key `path` is a docker config JSON with value's credentials
]


class FieldMatcher(_Strict):
    """One check on one field. `path` is dotted (`data.app\\.properties` escapes a dot);
    list items are addressed by index (`subjects.0.name`). Matchers for RBAC rules use
    AccessExpectation instead of comparing rule text."""

    path: str
    op: MatchOp
    value: Any = None
    description: str = ""

    # In JSON files `value` travels as `value_json`, a JSON-encoded string, so that every
    # line has the same column types (Arrow / `datasets.load_dataset` need that).
    @model_validator(mode="before")
    @classmethod
    def _decode_value(cls, data: Any) -> Any:
        if isinstance(data, dict) and "value_json" in data:
            data = dict(data)
            data["value"] = json.loads(data.pop("value_json"))
        return data

    @model_serializer(mode="wrap")
    def _encode_value(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        out = handler(self)
        if info.mode_is_json() and "value" in out:
            out["value_json"] = json.dumps(out.pop("value"), sort_keys=True)
        return out


class ObjectExpectation(_Strict):
    """The object exists (or, with `absent`, does not) and its fields match."""

    type: Literal["object"] = "object"
    ref: ObjectRef
    absent: bool = False
    matchers: list[FieldMatcher] = Field(default_factory=list)
    description: str = ""


class Subject(_Strict):
    """Who asks: a User, a Group, or a ServiceAccount (namespace required for those)."""

    kind: Literal["User", "Group", "ServiceAccount"]
    name: str
    namespace: str | None = None


class AccessCheck(_Strict):
    """One request to put to a SubjectAccessReview."""

    verb: str
    resource: str = ""
    group: str = ""  # API group; "" is the core group
    subresource: str = ""
    namespace: str = ""
    name: str = ""  # resourceName
    non_resource_url: str | None = None


class AccessExpectation(_Strict):
    """Behavioural RBAC: `subject` may do everything in `allowed` and nothing in `denied`."""

    type: Literal["access"] = "access"
    subject: Subject
    allowed: list[AccessCheck] = Field(default_factory=list)
    denied: list[AccessCheck] = Field(default_factory=list)
    description: str = ""


class PolicyRule(_Strict):
    """One RBAC rule, spelled as a Role spells it. A task's expected grant never holds a
    wildcard: every verb, group, resource and name is written out."""

    verbs: list[str]
    api_groups: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)  # plural, "pods/log" for a subresource
    resource_names: list[str] = Field(default_factory=list)  # empty: every object
    non_resource_urls: list[str] = Field(default_factory=list)


class GrantScope(_Strict):
    """What is granted in one namespace; `namespace` "" means cluster-wide (every
    namespace, cluster-scoped resources and non-resource URLs)."""

    namespace: str = ""
    rules: list[PolicyRule] = Field(default_factory=list)


class PermissionsExpectation(_Strict):
    """Exact RBAC: what `subject` may do, as the API server's rules review reports it, minus
    what the same groups without the subject's own bindings may do, equals `scopes` — no
    more, no less. Namespaces not listed (the task's others, and cluster-wide where the
    answer may write a ClusterRoleBinding) must show nothing granted."""

    type: Literal["permissions"] = "permissions"
    subject: Subject
    scopes: list[GrantScope]
    description: str = ""


class SubjectsExpectation(_Strict):
    """Who gains access: every subject the answer's RoleBindings and ClusterRoleBindings
    name, other than `allowed`, must gain no permission at all (rules review)."""

    type: Literal["subjects"] = "subjects"
    allowed: list[Subject]
    description: str = ""


Expectation = Annotated[
    ObjectExpectation | AccessExpectation | PermissionsExpectation | SubjectsExpectation,
    Field(discriminator="type"),
]


class Task(_Strict):
    """One benchmark task."""

    schema_version: int = SCHEMA_VERSION
    id: str
    operation: Operation = Operation.create
    category: Kind
    tier: Tier
    prompt: str
    # Objects the harness creates before the attempt (namespaces, referenced Roles, ...).
    setup: list[dict[str, Any]] = Field(default_factory=list)
    # Kinds an answer may contain; anything else never reaches the cluster.
    allowed_kinds: list[str]
    # Namespaces an answer may write to (cluster-scoped objects are not limited by this).
    namespaces: list[str] = Field(default_factory=list)
    expectations: list[Expectation]
    reference: str  # a YAML answer that passes every expectation
    tags: list[str] = Field(default_factory=list)
    min_kubernetes: str = "1.30"
