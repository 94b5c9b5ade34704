"""Text metrics: CloudEval-YAML's definitions on small answers whose scores are known."""

from __future__ import annotations

import time

import pytest

from kubebench.scoring.text_metrics import (
    TEXT_METRICS,
    answer_code,
    bleu,
    edit_distance,
    exact_match,
    kv_match,
    kv_wildcard,
    score_text,
    text_metric,
)

REFERENCE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  mode: fast
"""
REORDERED = """kind: ConfigMap
apiVersion: v1
metadata:
  namespace: team-a
  name: settings
data:
  mode: fast
"""


def test_the_reference_scores_one_everywhere_also_inside_markdown() -> None:
    chatty = f"Sure! Here it is:\n\n```yaml\n{REFERENCE}```\n\nApply it with kubectl."
    assert score_text(REFERENCE, REFERENCE) == {m.name: 1.0 for m in TEXT_METRICS}
    assert score_text(chatty, REFERENCE) == {m.name: 1.0 for m in TEXT_METRICS}


def test_unfenced_prose_before_the_manifest_is_cut() -> None:
    assert answer_code(f"Here you go.\n{REORDERED}") == REORDERED
    assert answer_code("no yaml at all") == "no yaml at all"


def test_reordered_keys_keep_key_value_scores_but_lose_text_scores() -> None:
    scores = score_text(REORDERED, REFERENCE)
    assert scores["kv_match"] == 1.0
    assert scores["kv_wildcard"] == 1.0
    assert scores["exact_match"] == 0.0
    # Two swapped pairs: the longest common line sequence keeps 5 of the 7 reference
    # lines, so 2 deletions + 2 insertions.
    assert scores["edit_distance"] == pytest.approx(1 - 4 / 7)
    assert 0.0 < scores["bleu"] < 0.5


def test_one_changed_value() -> None:
    wrong = REFERENCE.replace("fast", "slow")
    assert kv_match(wrong, REFERENCE) == 0.0
    # Five leaves each side, four equal: 4 / (5 + 5 - 4).
    assert kv_wildcard(wrong, REFERENCE) == pytest.approx(4 / 6)
    assert edit_distance(wrong, REFERENCE) == pytest.approx(1 - 2 / 7)
    assert exact_match(wrong, REFERENCE) == 0.0
    assert 0.8 < bleu(wrong, REFERENCE) < 1.0


def test_wildcard_labels_accept_any_value() -> None:
    labelled = REFERENCE.replace("mode: fast", "mode: fast  # *")
    assert kv_wildcard(REFERENCE.replace("fast", "slow"), labelled) == 1.0
    assert kv_wildcard(REFERENCE.replace("mode:", "speed:"), labelled) < 1.0


def test_lists_of_mappings_share_their_path_and_documents_pair_in_order() -> None:
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: n}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
"""
    fewer_verbs = role.replace("[get, list]", "[get]")
    # Leaves: apiVersion, kind, name, namespace, apiGroups, resources, verbs (a list of
    # scalars is one leaf): 6 of 7 equal.
    assert kv_wildcard(fewer_verbs, role) == pytest.approx(6 / 8)
    two = REFERENCE + "---\n" + role
    swapped = role + "---\n" + REFERENCE
    assert kv_match(two, two) == 1.0
    assert kv_match(swapped, two) == 0.0  # documents pair by position, as CloudEval-YAML


def test_a_block_scalars_final_newline_survives_the_fence() -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  key: |\n    abc\n"
    assert kv_match(f"```yaml\n{secret}```", secret) == 1.0
    assert kv_match(f"```yaml\n{secret.replace('|', '|-')}```", secret) == 0.0
    assert kv_wildcard(f"```yaml\n{secret}```", secret) == 1.0


def test_types_matter_as_in_deepdiff() -> None:
    quoted = REFERENCE.replace("mode: fast", 'mode: "1"')
    number = REFERENCE.replace("mode: fast", "mode: 1")
    assert kv_match(number, quoted) == 0.0


def test_short_and_non_yaml_answers_score_zero() -> None:
    assert bleu("apiVersion: v1", REFERENCE) == 0.0  # fewer than 4 tokens
    for answer in ("", "I cannot help with that.", "key: [unclosed"):
        assert kv_match(answer, REFERENCE) == 0.0
        assert kv_wildcard(answer, REFERENCE) == 0.0
        assert exact_match(answer, REFERENCE) == 0.0


def test_hostile_yaml_is_bounded() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        prev = "a" if i == 1 else f"l{i - 1}"
        laughs += f"l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    recursive = "a: &a [*a]\n"
    started = time.monotonic()
    for answer in (laughs, recursive, "x" * 300_000):
        scores = score_text(answer, REFERENCE)
        assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert time.monotonic() - started < 10


def test_metrics_have_names_and_versions() -> None:
    names = [m.name for m in TEXT_METRICS]
    assert names == ["bleu", "edit_distance", "exact_match", "kv_match", "kv_wildcard"]
    assert all(m.version for m in TEXT_METRICS)
    assert text_metric("bleu").score is bleu
    with pytest.raises(KeyError, match="kv_match"):
        text_metric("rouge")
