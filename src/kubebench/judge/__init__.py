"""LLM-as-judge: the rubric, judge prompts and parsing, the overall score, calibration.

The judge reads the task, the model's whole answer and the grader's evidence, and scores
named criteria 1-5. It never replaces the deterministic grade; see docs/judge.md.
"""

from kubebench.judge.rubric import CRITERIA, CRITERION_NAMES, RUBRIC_VERSION
from kubebench.judge.schema import Judgement, JudgementRecord

__all__ = ["CRITERIA", "CRITERION_NAMES", "RUBRIC_VERSION", "Judgement", "JudgementRecord"]
