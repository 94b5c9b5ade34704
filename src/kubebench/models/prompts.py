"""The messages a model sees for a task: a versioned system prompt, optional shots, the task.

Zero-shot by default. With `shots=k`, k solved examples from the dev split (never the
test split) come first as user/assistant turns, chosen deterministically: same kind
first, then same tier, then a stable hash of the two task ids. Change any text here and
bump `PROMPT_VERSION`: runs record it, and the response cache keys on the messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from kubebench.errors import UserError
from kubebench.models.base import ChatMessage
from kubebench.tasks.schema import Task

PROMPT_VERSION = "1"

ANSWER_FORMAT = (
    "Answer with the complete Kubernetes manifests in one fenced ```yaml code block; "
    "separate several objects with a line `---`. You may first explain your reasoning in "
    "a few short sentences, but write nothing after the code block. Create exactly the "
    "objects the request needs: no extra objects, no placeholders, no comments asking "
    "the reader to fill in values."
)

SYSTEM_PROMPT = (
    "You are an experienced Kubernetes administrator. You turn requests from engineers "
    "into correct, minimal Kubernetes manifests that the API server accepts as they are.\n\n"
    + ANSWER_FORMAT
)

# Shots draw from this split only: the test split must never leak into prompts.
SHOTS_SPLIT = "dev"


def example_answer(task: Task) -> str:
    """A task's reference answer in the format the system prompt asks for."""
    return f"```yaml\n{task.reference.strip()}\n```"


def _stable_rank(task: Task, example: Task) -> str:
    return hashlib.sha256(f"{task.id}\x00{example.id}".encode()).hexdigest()


def choose_examples(task: Task, pool: Sequence[Task], shots: int) -> list[Task]:
    """The `shots` examples for `task` from `pool`: same kind, then same tier, first."""
    candidates = [example for example in pool if example.id != task.id]
    candidates.sort(
        key=lambda example: (
            example.category != task.category,
            example.tier != task.tier,
            _stable_rank(task, example),
        )
    )
    return candidates[:shots]


@lru_cache(maxsize=1)
def _dev_pool() -> tuple[Task, ...]:
    try:
        from kubebench.tasks.loader import load_tasks
    except ImportError as exc:
        raise UserError(f"few-shot prompts need the task loader: {exc}") from None
    return tuple(load_tasks(split=SHOTS_SPLIT))


def build_messages(
    task: Task, *, shots: int = 0, examples: Sequence[Task] | None = None
) -> list[ChatMessage]:
    """System prompt, `shots` solved examples (from the dev split unless `examples` is
    given), then the task's request."""
    if shots < 0:
        raise UserError(f"--shots must be 0 or more, not {shots}")
    messages = [ChatMessage(role="system", content=SYSTEM_PROMPT)]
    if shots:
        pool = _dev_pool() if examples is None else examples
        chosen = choose_examples(task, pool, shots)
        if len(chosen) < shots:
            raise UserError(
                f"--shots {shots} asks for more examples than the {len(chosen)} there are"
            )
        for example in chosen:
            messages.append(ChatMessage(role="user", content=example.prompt))
            messages.append(ChatMessage(role="assistant", content=example_answer(example)))
    messages.append(ChatMessage(role="user", content=task.prompt))
    return messages
