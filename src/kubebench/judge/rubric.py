"""The versioned judging rubric: named criteria, each scored 1-5 against written levels.

Change any wording that affects scores => bump RUBRIC_VERSION, so that judgements made
under different rubrics are never averaged together unknowingly.
"""

from __future__ import annotations

from dataclasses import dataclass

RUBRIC_VERSION = "1"

SCORE_MIN = 1
SCORE_MAX = 5


@dataclass(frozen=True)
class Criterion:
    """One thing the judge scores, with a description of every level 1..5."""

    name: str  # the JSON key the judge must use
    title: str
    question: str
    levels: tuple[str, str, str, str, str]  # levels[0] describes a 1, levels[4] a 5


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        name="intent",
        title="Correctness of intent",
        question="Does the answer do what the task asked, with the names, namespaces, "
        "data and permissions the task specified?",
        levels=(
            "Does something else, or nothing usable.",
            "Addresses the task but misses or contradicts most of what was asked.",
            "Gets the main object right but misses or gets wrong a required detail.",
            "Does what was asked; only a minor slip a reviewer would fix in passing.",
            "Does exactly what was asked, every requested detail right.",
        ),
    ),
    Criterion(
        name="security",
        title="Security and least privilege",
        question="Does the answer grant only what is needed and handle secrets safely?",
        levels=(
            "Grants broad or cluster-wide power (wildcards, cluster-admin, escalate/bind) "
            "or leaks secret values without need.",
            "Grants clearly more than needed (extra verbs, resources or scope).",
            "Somewhat broader than needed, or a questionable choice left unexplained.",
            "Least privilege with a small excess that is easy to justify.",
            "Exactly the access needed, at the narrowest scope; secrets handled carefully.",
        ),
    ),
    Criterion(
        name="best_practice",
        title="Kubernetes best practice",
        question="Is the YAML idiomatic and maintainable: correct apiVersions, namespaced "
        "where it should be, labels where useful, no deprecated or invalid fields?",
        levels=(
            "Invalid or badly non-idiomatic manifests.",
            "Works poorly: wrong or deprecated fields, wrong scope, confusing structure.",
            "Valid but with noticeable non-idiomatic choices.",
            "Idiomatic with minor omissions.",
            "Clean, idiomatic manifests a reviewer would merge as is.",
        ),
    ),
    Criterion(
        name="reasoning",
        title="Quality of reasoning and explanation",
        question="Is what the answer says about its YAML accurate, relevant and helpful? "
        "An answer with no prose but correct YAML scores 3.",
        levels=(
            "Explanation is wrong or misleading about what the YAML does.",
            "Explanation is mostly unhelpful or contains notable errors.",
            "No explanation, or a neutral one that adds little.",
            "Accurate, relevant explanation with small gaps.",
            "Accurate, concise explanation of the choices and their trade-offs.",
        ),
    ),
)

CRITERION_NAMES: tuple[str, ...] = tuple(c.name for c in CRITERIA)
CORRECTNESS_CRITERION = "intent"  # the score compared with the deterministic grader


def render_rubric() -> str:
    """The rubric as plain text for the judge prompt."""
    blocks = []
    for criterion in CRITERIA:
        lines = [f'"{criterion.name}" - {criterion.title}: {criterion.question}']
        lines += [f"  {score}: {text}" for score, text in enumerate(criterion.levels, start=1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
