"""Regenerate the shipped judge labels: grade each labelled answer on a real control plane.

    .venv/bin/python -m tests.judge.build_labels [--out PATH]

Every answer below was written (or mutated from a task's reference) by a KubeBench
engineer, who then read the task, the answer and the grader's evidence and scored each
rubric criterion by hand; those scores sit next to the answer in `LABELLED_ANSWERS`.
This script only attaches what the grader really says (the verdict, graded with
`grade_answer` on a local control plane) and the task, and writes the JSONL.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from kubebench.cluster.client import KubeClient
from kubebench.cluster.controlplane import ControlPlane
from kubebench.judge.calibrate import SHIPPED_LABELS, HumanLabel
from kubebench.tasks.schema import Task
from tests.judge.labelled_answers import LABELLED_ANSWERS, REVIEWER, render_answer


async def build(out: Path) -> None:
    from kubebench.grading.pipeline import grade_answer
    from kubebench.tasks.loader import get_task

    lines = []
    with ControlPlane() as plane:
        async with KubeClient(plane.connection) as kube:
            for item in LABELLED_ANSWERS:
                task: Task = get_task(item.task_id)
                answer = render_answer(item, task)
                verdict = await grade_answer(task, answer, kube)
                if verdict.infrastructure_error:
                    raise SystemExit(f"{item.task_id}: {verdict.infrastructure_error}")
                label = HumanLabel(
                    task_id=task.id,
                    answer=answer,
                    scores=dict(
                        zip(
                            ("intent", "security", "best_practice", "reasoning"),
                            item.scores,
                            strict=True,
                        )
                    ),
                    passed=verdict.success,
                    verdict=verdict,
                    task=task,
                    reviewer=REVIEWER,
                    note=item.note,
                )
                lines.append(label.model_dump_json(exclude_none=True))
                print(f"{task.id:40} {verdict.stage.value:12} {item.scores} {item.note[:60]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} labels to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_LABELS)
    asyncio.run(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
