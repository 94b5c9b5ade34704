"""A scripted judge double and a small task with a failing answer, for the judge tests."""

from __future__ import annotations

from kubebench.errors import InfrastructureError
from kubebench.models.base import ChatMessage, Completion, GenerationConfig
from kubebench.tasks.schema import Task


class ScriptedJudge:
    """A judge double that replies with canned texts in order and records every call."""

    def __init__(self, *replies: str | Exception, model_id: str = "scripted:judge") -> None:
        self.model_id = model_id
        self.replies = list(replies)
        self.calls: list[tuple[list[ChatMessage], GenerationConfig]] = []

    async def complete(
        self, messages: list[ChatMessage], config: GenerationConfig, *, task: Task | None = None
    ) -> Completion:
        self.calls.append((list(messages), config))
        reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return Completion(text=reply, prompt_tokens=100, completion_tokens=20, latency_s=0.5)

    def describe(self) -> dict[str, object]:
        return {"provider": "scripted-judge"}

    async def aclose(self) -> None:
        return None


def endpoint_down() -> InfrastructureError:
    return InfrastructureError("judge endpoint answered 503 after retries")


ROLE_TASK = Task.model_validate(
    {
        "id": "judge-test-role-pod-reader",
        "category": "Role",
        "tier": "basic",
        "prompt": (
            "Create a Role named pod-reader in namespace judge-test that lets its holder "
            "get, list and watch pods, and nothing else."
        ),
        "setup": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "judge-test"}}],
        "allowed_kinds": ["Role"],
        "namespaces": ["judge-test"],
        "expectations": [
            {
                "type": "object",
                "ref": {
                    "api_version": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "name": "pod-reader",
                    "namespace": "judge-test",
                },
                "matchers": [
                    {
                        "path": "rules.0.verbs",
                        "op": "set_equals",
                        "value": ["get", "list", "watch"],
                    },
                    {"path": "rules.0.resources", "op": "set_equals", "value": ["pods"]},
                ],
                "description": "Role pod-reader grants get/list/watch on pods only",
            }
        ],
        "reference": (
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
            "  name: pod-reader\n  namespace: judge-test\nrules:\n- apiGroups: ['']\n"
            "  resources: [pods]\n  verbs: [get, list, watch]\n"
        ),
    }
)

# Runs on the server but grants every verb: fails the expectation, with an observed value.
WILDCARD_ANSWER = """Here is the Role. I used a wildcard so it keeps working if needs grow.

```yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: judge-test
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["*"]
```
"""
