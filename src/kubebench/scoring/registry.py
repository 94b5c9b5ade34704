"""Scorers by name: the built-ins and the entry points of the group `kubebench.scorers`.

A scorer spec is `name` or `name:argument` (`judge:openai:gpt-4o`: the argument is the
judge's model id). Each name maps to a factory called as `factory(argument)` that
returns a `Scorer`. A package adds a scorer with one module and one entry point:

    [project.entry-points."kubebench.scorers"]
    my_metric = "my_package.scorer:create"

Built-in names win over an entry point of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

from kubebench.errors import UserError
from kubebench.scoring.base import Scorer

ENTRY_POINT_GROUP = "kubebench.scorers"

ScorerFactory = Callable[[str], Scorer]


def _builtins() -> dict[str, ScorerFactory]:
    from kubebench.scoring.grader import create_grader
    from kubebench.scoring.judge import create_judge
    from kubebench.scoring.text import text_metric_factory
    from kubebench.scoring.text_metrics import TEXT_METRICS

    found: dict[str, ScorerFactory] = {"grader": create_grader, "judge": create_judge}
    for metric in TEXT_METRICS:
        found[metric.name] = text_metric_factory(metric.name)
    return found


@dataclass(frozen=True)
class ScorerInfo:
    """One registered scorer name, as `kubebench score --help` lists them."""

    name: str
    source: str  # "built-in" or the entry point's `module:attribute`


def list_scorers() -> list[ScorerInfo]:
    """Every scorer name, built-ins first."""
    infos = [ScorerInfo(name, "built-in") for name in _builtins()]
    known = {info.name for info in infos}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in known:
            known.add(point.name)
            infos.append(ScorerInfo(point.name, point.value))
    return infos


def _factory(name: str) -> ScorerFactory:
    builtins = _builtins()
    if name in builtins:
        return builtins[name]
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            try:
                return point.load()  # type: ignore[no-any-return]
            except ImportError as exc:
                raise UserError(f"scorer {name!r} cannot be loaded: {exc}") from exc
    known = ", ".join(info.name for info in list_scorers())
    raise UserError(f"unknown scorer {name!r}; known scorers: {known}")


def create_scorer(spec: str) -> Scorer:
    """The scorer for `name` or `name:argument`; UserError for an unknown name."""
    name, _, argument = spec.strip().partition(":")
    if not name:
        raise UserError("empty scorer name", hint="e.g. --scorer judge:openai:gpt-4o")
    scorer = _factory(name)(argument)
    missing = [a for a in ("name", "version", "score") if not hasattr(scorer, a)]
    if missing:
        raise UserError(f"scorer {name!r} is not a Scorer (no {', '.join(missing)})")
    return scorer
