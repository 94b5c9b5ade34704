"""Finding YAML in answers: fences, languages, bare YAML, prose kept apart."""

from __future__ import annotations

from kubebench.grading.extract import extract_yaml

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"


def test_yaml_block_is_taken_and_bash_block_stays_prose() -> None:
    answer = f"Here you go:\n```yaml\n{CM}```\nThen:\n```bash\nkubectl apply -f cm.yaml\n```\n"
    result = extract_yaml(answer)
    assert [b.text.strip() for b in result.blocks] == [CM.strip()]
    assert result.blocks[0].first_line == 3
    assert "kubectl apply" in result.prose
    assert "Here you go:" in result.prose
    assert "kind: ConfigMap" not in result.prose


def test_yml_tilde_fences_and_several_blocks_keep_order() -> None:
    answer = f"~~~yml\n{CM}~~~\ntext\n```yaml\n{CM.replace('name: a', 'name: b')}```"
    result = extract_yaml(answer)
    assert [b.language for b in result.blocks] == ["yml", "yaml"]
    assert "name: a" in result.blocks[0].text and "name: b" in result.blocks[1].text
    assert result.prose == "text"


def test_tagged_yaml_wins_over_untagged_blocks() -> None:
    answer = f"```\n{CM}```\n```yaml\n{CM.replace('name: a', 'name: tagged')}```"
    result = extract_yaml(answer)
    assert len(result.blocks) == 1 and "tagged" in result.blocks[0].text


def test_untagged_block_is_taken_only_when_it_looks_like_a_manifest() -> None:
    manifest = extract_yaml(f"```\n{CM}```")
    assert len(manifest.blocks) == 1
    shell = extract_yaml("```\nkubectl create configmap a\n```")
    assert shell.blocks == [] and "kubectl create" in shell.prose


def test_bare_yaml_answer_is_one_block() -> None:
    result = extract_yaml(CM + "---\n" + CM)
    assert len(result.blocks) == 1 and result.blocks[0].first_line == 1
    assert result.prose == ""


def test_bare_yaml_between_prose() -> None:
    answer = f"Sure! The manifest is:\n\n{CM}\nThis creates the ConfigMap.\nNote: apply it."
    result = extract_yaml(answer)
    assert [b.text.strip() for b in result.blocks] == [CM.strip()]
    assert result.blocks[0].first_line == 3
    assert "Sure!" in result.prose and "Note: apply it." in result.prose


def test_prose_only_and_empty_answers_have_no_yaml() -> None:
    assert extract_yaml("I cannot help with that request.").blocks == []
    assert extract_yaml("").blocks == []


def test_unclosed_fence_runs_to_the_end_and_indented_fence_is_dedented() -> None:
    assert "kind: ConfigMap" in extract_yaml(f"```yaml\n{CM}").blocks[0].text
    indented = "1. Apply this:\n   ```yaml\n" + "".join(f"   {line}\n" for line in CM.splitlines())
    indented += "   ```\n"
    block = extract_yaml(indented).blocks[0]
    assert block.text.splitlines()[0] == "apiVersion: v1"
