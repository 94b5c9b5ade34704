"""Reports of real runs on the real control plane: the HTML report of the oracle and of
the embedded model opens in headless Chromium with every section and no console error;
`compare` of the oracle against a scripted model with known wrong answers finds exactly
those flips.

The embedded model runs `--stratified 2` (48 tasks) with a shorter answer budget than
the default (`REPORT_TEST_MAX_TOKENS`), to keep the suite's CPU time down; the report's
shape does not depend on answer length.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.report.run_views import SECTIONS
from kubebench.runner.store import RunStore
from kubebench.tasks.authoring.mutations import mutations_for
from kubebench.tasks.loader import get_task

CHROMIUM = "/usr/bin/chromium"
REPORT_TEST_MAX_TOKENS = int(os.environ.get("KUBEBENCH_REPORT_TEST_MAX_TOKENS", "192"))
# Screenshots go here when set (for people to look at); else into the test's tmp folder.
SCREENSHOT_DIR_ENV = "KUBEBENCH_SCREENSHOT_DIR"


def _run(root: Path, run_id: str, args: list[str], cluster_args: list[str]) -> Path:
    result = CliRunner().invoke(
        app,
        ["run", *args, "--stratified", "2", "--out", str(root), "--run-id", run_id,
         "--no-cache", *cluster_args],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root / run_id


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def oracle_run(runs_root: Path, cluster_args: list[str]) -> Path:
    return _run(runs_root, "oracle", ["--model", "oracle"], cluster_args)


@pytest.fixture(scope="module")
def embedded_run(runs_root: Path, cluster_args: list[str]) -> Path:
    from kubebench.models.embedded import embedded_gguf_path

    embedded_gguf_path()  # a UserError here says how to install the model file
    args = ["--max-tokens", str(REPORT_TEST_MAX_TOKENS)]
    return _run(runs_root, "embedded", args, cluster_args)


def _wrong_answers(task_ids: list[str]) -> dict[str, str]:
    """Known wrong answers for six of the tasks, each failing at a different stage."""
    chosen = task_ids[::8][:5]
    answers = {
        chosen[0]: "",  # nothing
        chosen[1]: "I am sorry, I cannot write that configuration.",  # no YAML
        chosen[2]: "```yaml\nkind: [unclosed\n```",  # does not parse
        chosen[3]: "```yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec: {containers: [{name: c, image: busybox}]}\n```",  # out of scope
    }
    # One mutation of the kinds self-validation proves the grader catches.
    caught = ("widen_to_wildcard", "corrupt_secret_value", "change_role_ref", "drop_object")
    for task_id in task_ids:
        if task_id in answers:
            continue
        mutation = next((m for m in mutations_for(get_task(task_id)) if m.name in caught), None)
        if mutation is not None:
            answers[task_id] = mutation.answer
            break
    return answers


@pytest.fixture(scope="module")
def scripted_run(
    runs_root: Path, oracle_run: Path, cluster_args: list[str]
) -> tuple[Path, set[str]]:
    task_ids = RunStore.open(oracle_run).meta.task_ids
    wrong = _wrong_answers(task_ids)
    script = {tid: f"```yaml\n{get_task(tid).reference}```\n" for tid in task_ids} | wrong
    path = runs_root / "answers.json"
    path.write_text(json.dumps(script))
    return _run(runs_root, "scripted", ["--model", f"scripted:{path}"], cluster_args), set(wrong)


def _screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get(SCREENSHOT_DIR_ENV) or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _open_in_chromium(html_path: Path, png_path: Path) -> tuple[list[str], dict[str, int]]:
    """Console errors and page errors, and the size of each section, in headless
    Chromium; a full-page screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)")
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.goto(html_path.as_uri(), wait_until="load")
            sizes = {
                sid: page.locator(f"section#{sid}").evaluate(
                    "e => e.getBoundingClientRect().height * (e.innerText.length > 10)"
                )
                for sid, _ in SECTIONS
            }
            figures = page.locator("section svg").count()
            sizes["svg figures"] = figures
            page.screenshot(path=str(png_path), full_page=True)
        finally:
            browser.close()
    return problems, sizes


@pytest.mark.slow
@pytest.mark.parametrize("which", ["oracle", "embedded"])
def test_html_report_of_a_real_run_opens_in_chromium(
    which: str, request: pytest.FixtureRequest, tmp_path: Path, cluster_args: list[str]
) -> None:
    run_dir: Path = request.getfixturevalue(f"{which}_run")
    html_path = _screenshot_dir(tmp_path) / f"report-{which}.html"
    result = CliRunner().invoke(
        app, ["report", str(run_dir), "--format", "html", "--out", str(html_path)]
    )
    assert result.exit_code == 0, result.output
    problems, sizes = _open_in_chromium(html_path, html_path.with_suffix(".png"))
    assert problems == []
    assert all(sizes[sid] > 0 for sid, _ in SECTIONS), sizes
    # rates, heatmap, text metrics; failures too when something failed
    assert sizes["svg figures"] >= 3
    html = html_path.read_text()
    data = json.loads(CliRunner().invoke(app, ["report", str(run_dir), "--format", "json"]).stdout)
    assert data["status"]["recorded"] == data["status"]["planned"] == 48
    assert data["provenance"]["kubernetes_version"] in html
    assert data["provenance"]["task_set_hash"] in html
    if which == "oracle":
        assert data["rates"]["success"]["rate"] == 1.0
        assert "no failed attempts" in html
        assert all(m["mean"] == 1.0 for m in data["text_metrics"]["metrics"])
    else:
        for attempt in data["failed_attempts"]:
            assert f'id="{attempt["anchor"]}"' in html


@pytest.mark.slow
def test_compare_oracle_with_scripted_wrong_answers_finds_exactly_the_flips(
    oracle_run: Path, scripted_run: tuple[Path, set[str]]
) -> None:
    scripted, wrong = scripted_run
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(oracle_run), str(scripted), "--format", "json"])
    assert result.exit_code == 0, result.output
    [c] = json.loads(result.stdout)["comparisons"]
    assert {f["task_id"] for f in c["flips"]["broken"]} == wrong
    assert c["flips"]["fixed"] == []
    stages = {f["task_id"]: f["run"]["stage"] for f in c["flips"]["broken"]}
    assert {"extract", "parse", "scope"} <= set(stages.values()), stages
    assert c["overall"]["passed_in_baseline_only"] == len(wrong)
    assert c["overall"]["difference"]["delta"] == pytest.approx(-len(wrong) / 48)
    assert c["overall"]["mcnemar_p"] == pytest.approx(2 * 0.5 ** len(wrong))
    reverse = runner.invoke(app, ["compare", str(scripted), str(oracle_run), "--format", "json"])
    [r] = json.loads(reverse.stdout)["comparisons"]
    assert {f["task_id"] for f in r["flips"]["fixed"]} == wrong and r["flips"]["broken"] == []
    html = runner.invoke(app, ["compare", str(oracle_run), str(scripted), "--format", "html"])
    assert html.exit_code == 0 and all(t in html.stdout for t in wrong)


@pytest.mark.slow
def test_leaderboard_of_the_real_runs(
    oracle_run: Path, scripted_run: tuple[Path, set[str]]
) -> None:
    result = CliRunner().invoke(app, ["leaderboard", str(oracle_run.parent), "--format", "json"])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)["tables"]
    rows = [row for t in tables for row in t["rows"]]
    oracle = next(r for r in rows if r["model_id"] == "oracle:reference")
    assert oracle["success"]["rate"] == 1.0 and oracle["rank"] == 1
    assert not any(r["model_id"].startswith("scripted:") and r["rank"] == 1 for r in rows)
