"""The web UI in headless Chromium against a real `kubebench serve` (uvicorn on loopback)
whose /v1/validate dry-runs on the session's real control plane, with real runs made by
`kubebench run` and real registered downloads. The chat model is the scripted double.

Every verdict the page shows is checked against the server's own answer to the same
request, so a message the UI made up fails the test. Screenshots of each page go to
$KUBEBENCH_SCREENSHOTS (else the test's tmp folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kubebench.cli.main import app
from kubebench.runner.store import RunStore
from kubebench.serve.settings import ServeSettings
from kubebench.tasks.authoring.mutations import mutations_for
from kubebench.tasks.loader import get_task
from tests.runner.conftest import cluster_args  # noqa: F401  (a fixture)
from tests.serve.conftest import RunningServer, chat_script, launch

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing (scripts/browser_setup.sh installs it)"
)

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is missing (scripts/browser_setup.sh installs Debian's chromium)",
        allow_module_level=True,
    )
SCREENSHOTS_ENV = "KUBEBENCH_SCREENSHOTS"
# One task per kind x tier of three kinds; one wrong answer among them: a mutation that
# still dry-runs but fails an expectation (self-validation proves the grader catches it).
RUN_TASKS = ("--kind", "ConfigMap", "--kind", "Secret", "--kind", "Role", "--stratified", "1")
CAUGHT = ("corrupt_secret_value", "widen_to_wildcard", "change_role_ref")
WORD_GAP_S = 0.3  # the streamed double's pause between words: wide enough to see each step
TIMEOUT_MS = 20_000  # each wait on the page; the dry-runs are on a shared 2-core machine
sync_api.expect.set_options(timeout=TIMEOUT_MS)

VALID_BLOCK = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\ndata:\n  mode: fast\n"
)
INVALID_BLOCK = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\ndata:\n  mode: slow\n"
)
TWO_BLOCKS = (
    "Here is the ConfigMap you asked for:\n\n"
    f"```yaml\n{VALID_BLOCK}```\n\nand a second one:\n\n```yaml\n{INVALID_BLOCK}```\n"
)
EXPLAINED = (
    "```yaml\n"
    "apiVersion: v1  # ConfigMaps are in the core group\n"
    "kind: ConfigMap  # plain settings, not secret\n"
    "metadata:\n"
    "  name: web-config  # the name the Deployment mounts\n"
    "data:\n"
    "  LOG_LEVEL: info  # verbose enough to debug, quiet in production\n"
    "```\n"
)
BARE = (
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder\n"
    "automountServiceAccountToken: false\nsecretz:\n- name: token\n"
)
HOSTILE = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>\n'
    "```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    'data:\n  html: "<b onmouseover=window.__pwned=3>bold</b>"\n```\n'
)


@pytest.fixture(scope="module")
def chromium(server: RunningServer) -> Iterator[Any]:
    """Headless Debian chromium, started after the server and its runs: Playwright's sync
    API keeps an event loop running in this thread, where `kubebench run`'s asyncio.run
    could not start."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def _run(root: Path, run_id: str, model: str, cluster: list[str]) -> Path:
    result = CliRunner().invoke(
        app,
        ["run", "--model", model, *RUN_TASKS, "--out", str(root),
         "--run-id", run_id, "--no-cache", *cluster],
        terminal_width=200,
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root / run_id


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
    cluster_args: list[str],  # noqa: F811
) -> dict[str, Any]:
    """Two real runs on the same tasks: the oracle (every answer the reference) and a
    scripted model whose answer to one task is a mutation the grader catches."""
    root = tmp_path_factory.mktemp("ui-runs")
    _run(root, "oracle", "oracle", cluster_args)
    task_ids = RunStore.open(root / "oracle").meta.task_ids
    answers = {tid: f"```yaml\n{get_task(tid).reference}```\n" for tid in task_ids}
    broken, mutation = next(
        (tid, found[0]) for tid in task_ids if (found := mutations_for(get_task(tid), CAUGHT))
    )
    answers[broken] = f"```yaml\n{mutation.answer}```\n"
    script = root / "answers.json"
    script.write_text(json.dumps(answers))
    _run(root, "scripted", f"scripted:{script}", cluster_args)
    return {"root": root, "task_ids": task_ids, "broken": broken, "script": script}


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A dataset file and an adapter folder with a model card, to register."""
    root = tmp_path_factory.mktemp("ui-downloads")
    dataset = root / "tiny.jsonl"
    dataset.write_bytes(b"".join(json.dumps({"i": i}).encode() + b"\n" for i in range(50)))
    adapter = root / "rbac-lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 8, "lora_alpha": 16}')
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    (adapter / "README.md").write_text("# rbac-lora\n\nA LoRA adapter for <RBAC> tasks & more.\n")
    return {"dataset": dataset, "adapter": adapter}


@pytest.fixture(scope="module")
def server(
    runs: dict[str, Any],
    downloads: dict[str, Path],
    connection: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("ui-chat")
    models = [
        chat_script(folder / "two-blocks.json", TWO_BLOCKS),
        chat_script(folder / "explained.json", EXPLAINED),
        chat_script(folder / "hostile.json", HOSTILE),
        chat_script(folder / "bare.json", BARE),
        chat_script(folder / "words.json", TWO_BLOCKS) + f"?chunk_s={WORD_GAP_S}",
    ]
    settings = ServeSettings(
        models=models,
        runs_dir=runs["root"],
        register=[downloads["dataset"], downloads["adapter"]],
        connection=connection,
        rate_per_s=0,  # one browser's many small requests are not a flood
        download_cache=tmp_path_factory.mktemp("ui-download-cache"),
    )
    running = launch(settings)
    yield running
    running.stop()


@pytest.fixture
def problems() -> list[str]:
    """Console errors and uncaught errors of the test's page (a test that expects some,
    such as a refused request, clears them)."""
    return []


@pytest.fixture
def page(chromium: Any, server: RunningServer, problems: list[str]) -> Iterator[Any]:
    """A fresh browser context (empty localStorage) on the server; fails the test on a
    console error or an uncaught page error."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    yield pg
    context.close()
    assert not problems, problems


def _model_with(server: RunningServer, name: str) -> str:
    ids = [m["id"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]]
    return next(i for i in ids if i.endswith(name))


def _validate(server: RunningServer, text: str) -> dict[str, Any]:
    resp = httpx.post(f"{server.url}/v1/validate", json={"yaml": text}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _ask(page: Any, server: RunningServer, model_suffix: str, prompt: str) -> Any:
    page.goto(f"{server.url}/#/chat")
    page.get_by_test_id("chat-model").select_option(_model_with(server, model_suffix))
    page.get_by_test_id("chat-input").fill(prompt)
    page.get_by_test_id("chat-send").click()
    answer = page.locator("[data-testid=chat-message-assistant][data-done=true]").last
    answer.wait_for()
    return answer


def test_chat_badges_show_the_servers_verdict_on_each_block(
    page: Any, server: RunningServer, shots: Path, tmp_path: Path
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    validations: list[str] = []
    page.on(
        "request", lambda r: validations.append(r.post_data) if "/v1/validate" in r.url else None
    )
    context_file = tmp_path / "existing.yaml"
    context_file.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n")
    page.goto(f"{server.url}/#/chat")
    page.get_by_test_id("chat-upload").set_input_files(str(context_file))
    page.get_by_test_id("chat-context").wait_for()
    with page.expect_request("**/v1/chat/completions") as sent:
        answer = _ask(page, server, "two-blocks.json", "Write two ConfigMaps.")
    body = json.loads(sent.value.post_data)
    assert body["stream"] is True
    assert "name: team-a" in body["messages"][-1]["content"]  # the uploaded file went along

    blocks = answer.get_by_test_id("yaml-block")
    assert blocks.count() == 2
    good, bad = blocks.nth(0), blocks.nth(1)
    sync_api.expect(good.get_by_test_id("yaml-badge")).to_have_text("valid")
    sync_api.expect(bad.get_by_test_id("yaml-badge")).to_contain_text("invalid")

    verdict = _validate(server, INVALID_BLOCK)
    (doc,) = verdict["documents"]
    assert not doc["valid"] and doc["stage"] == "dry_run"
    assert "Bad_Name" in doc["message"] and "RFC 1123" in doc["message"]  # Kubernetes' words
    sync_api.expect(bad.get_by_test_id("yaml-badge")).to_contain_text(doc["message"])
    pinned = bad.get_by_test_id("yaml-line-error")
    sync_api.expect(pinned).to_contain_text(doc["message"])
    assert doc["line_of_error"] == 4  # the `name: Bad_Name` line
    assert pinned.get_attribute("data-line") == "4"
    # The note sits right under the line it concerns.
    above = pinned.locator("xpath=preceding-sibling::div[1]")
    assert "name: Bad_Name" in above.inner_text()
    # Each complete block was sent once, as it stands in the answer.
    assert sorted(json.loads(v)["yaml"] for v in validations) == sorted(
        [VALID_BLOCK, INVALID_BLOCK]
    )
    assert _validate(server, VALID_BLOCK)["valid"] is True
    page.screenshot(path=str(shots / "chat.png"), full_page=True)

    bad.get_by_test_id("yaml-copy").click()
    sync_api.expect(bad.get_by_test_id("yaml-copy")).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == INVALID_BLOCK
    with page.expect_download() as got:
        bad.get_by_test_id("yaml-download").click()
    assert Path(got.value.path()).read_text() == INVALID_BLOCK
    assert got.value.suggested_filename == "answer-2.yaml"

    # The conversation survives a reload; "new chat" empties it.
    page.reload()
    sync_api.expect(page.get_by_test_id("chat-message-assistant")).to_have_count(1)
    sync_api.expect(page.get_by_test_id("yaml-badge").nth(1)).to_contain_text(doc["message"])
    page.get_by_test_id("chat-new").click()
    sync_api.expect(page.get_by_test_id("chat-message-assistant")).to_have_count(0)
    page.reload()
    sync_api.expect(page.get_by_test_id("chat-log")).to_contain_text("No messages yet")


def test_chat_renders_and_validates_a_streamed_answer_as_it_arrives(
    page: Any, server: RunningServer
) -> None:
    page.goto(f"{server.url}/#/chat")
    page.get_by_test_id("chat-model").select_option(
        _model_with(server, f"words.json?chunk_s={WORD_GAP_S}")
    )
    page.get_by_test_id("chat-input").fill("Write two ConfigMaps.")
    page.get_by_test_id("chat-send").click()
    streaming = "[data-testid=chat-message-assistant][data-done=false]"
    # The first words show while the rest is still to come ...
    page.wait_for_function(
        """(sel) => { const m = document.querySelector(sel);
           const text = m ? m.innerText : "";
           return text.includes("Here is") && !text.includes("app-settings"); }""",
        arg=streaming,
    )
    # ... and the first block, once closed, gets the server's verdict before the answer ends.
    page.wait_for_function(
        """(sel) => { const m = document.querySelector(sel);
           const badge = m && m.querySelector("[data-testid=yaml-badge]");
           return badge && badge.textContent === "valid" && !m.innerText.includes("Bad_Name"); }""",
        arg=streaming,
    )
    answer = page.locator("[data-testid=chat-message-assistant][data-done=true]").last
    answer.wait_for()
    badges = answer.get_by_test_id("yaml-badge")
    sync_api.expect(badges).to_have_count(2)
    sync_api.expect(badges.nth(1)).to_contain_text("Bad_Name")


def test_explain_mode_asks_for_reasons_and_tables_them(
    page: Any, server: RunningServer, shots: Path
) -> None:
    page.goto(f"{server.url}/#/chat")
    page.get_by_test_id("chat-explain").check()
    with page.expect_request("**/v1/chat/completions") as sent:
        answer = _ask(page, server, "explained.json", "A ConfigMap for the web app.")
    messages = json.loads(sent.value.post_data)["messages"]
    assert messages[0]["role"] == "system" and "# reason" in messages[0]["content"]
    rows = answer.get_by_test_id("explain-table").locator("tbody tr")
    sync_api.expect(rows).to_have_count(4)
    fields = [rows.nth(i).locator("td").nth(0).locator("code").inner_text() for i in range(4)]
    assert fields == ["apiVersion", "kind", "metadata.name", "data.LOG_LEVEL"]
    assert rows.nth(2).locator("td").nth(1).inner_text() == "the name the Deployment mounts"
    sync_api.expect(answer.get_by_test_id("yaml-badge")).to_have_text("valid")
    page.screenshot(path=str(shots / "chat-explain.png"), full_page=True)


def test_a_bare_yaml_answer_is_validated_with_the_message_at_its_field(
    page: Any, server: RunningServer
) -> None:
    answer = _ask(page, server, "bare.json", "A ServiceAccount named builder.")
    block = answer.get_by_test_id("yaml-block")
    sync_api.expect(block).to_have_count(1)
    (doc,) = _validate(server, BARE)["documents"]
    assert not doc["valid"] and 'unknown field "secretz"' in doc["message"]
    assert doc["line_of_error"] == 6  # the `secretz:` line
    sync_api.expect(block.get_by_test_id("yaml-badge")).to_contain_text(doc["message"])
    pinned = block.get_by_test_id("yaml-line-error")
    assert pinned.get_attribute("data-line") == "6"
    assert pinned.locator("xpath=preceding-sibling::div[1]").inner_text().endswith("secretz:")


def test_model_output_is_shown_as_text_never_run(page: Any, server: RunningServer) -> None:
    answer = _ask(page, server, "hostile.json", "Say something.")
    sync_api.expect(answer.get_by_test_id("yaml-badge")).to_have_text("valid")
    assert page.evaluate("window.__pwned") is None
    assert answer.locator("img, script, b").count() == 0
    assert '<img src=x onerror="window.__pwned=1">' in answer.inner_text()
    answer.locator(".yaml-line", has_text="onmouseover").hover()
    assert page.evaluate("window.__pwned") is None


def test_editor_shows_the_servers_error_as_you_type_and_clears_it(
    page: Any, server: RunningServer, shots: Path
) -> None:
    page.goto(f"{server.url}/#/editor")
    editor = page.get_by_test_id("editor-input")
    status = page.get_by_test_id("editor-status")
    sync_api.expect(status).to_have_text("valid (2 documents)")  # the example text
    first = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: builder\n---\n"
    second = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: 3\n"
    editor.fill("")
    editor.press_sequentially(first + second, delay=5)
    error = page.get_by_test_id("editor-doc-error")
    sync_api.expect(error).to_have_count(1)
    verdict = _validate(server, first + second)
    bad = [d for d in verdict["documents"] if not d["valid"]]
    assert [d["index"] for d in bad] == [1] and bad[0]["line"] == 6
    sync_api.expect(error).to_contain_text(bad[0]["message"])
    sync_api.expect(error).to_contain_text("line 6")
    sync_api.expect(error).to_contain_text("ConfigMap/settings")
    assert error.get_attribute("data-index") == "1"
    sync_api.expect(status).to_have_text("1 of 2 invalid")
    sync_api.expect(page.get_by_test_id("editor-bad-line")).to_have_count(6)  # lines 6-11
    page.screenshot(path=str(shots / "editor.png"), full_page=True)
    # Clicking the error selects its document in the text.
    error.click()
    selected = editor.evaluate("e => e.value.slice(e.selectionStart, e.selectionEnd)")
    assert selected == second.rstrip("\n")

    # Fix it by typing: quote the number.
    editor.fill(first + second.rstrip("\n").replace("mode: 3", "mode: "))
    editor.press("Control+End")
    editor.press_sequentially('"3"', delay=20)
    sync_api.expect(status).to_have_text("valid (2 documents)")
    sync_api.expect(error).to_have_count(0)
    sync_api.expect(page.get_by_test_id("editor-bad-line")).to_have_count(0)
    assert _validate(server, editor.input_value())["valid"] is True


def test_explorer_shows_a_task_and_drills_from_a_run_to_expectation_results(
    page: Any, server: RunningServer, runs: dict[str, Any], shots: Path
) -> None:
    broken = runs["broken"]
    task = get_task(broken)
    page.goto(f"{server.url}/#/explore/tasks")
    page.get_by_test_id("filter-kind").select_option(str(task.category))
    page.get_by_test_id("task-search").fill(broken)
    link = page.get_by_test_id("task-link").filter(has_text=re.compile(f"^{re.escape(broken)}$"))
    sync_api.expect(link).to_have_count(1)
    rows = page.get_by_test_id("task-row")
    for i in range(rows.count()):
        assert rows.nth(i).locator("td").nth(1).inner_text() == str(task.category)
    link.click()
    sync_api.expect(page.get_by_test_id("task-prompt")).to_have_text(task.prompt)
    sync_api.expect(page.get_by_test_id("task-reference")).to_have_text(task.reference)
    words = httpx.get(f"{server.url}/api/tasks/{broken}").json()["expectations"]
    assert words
    sync_api.expect(page.get_by_test_id("task-expectations").locator("li")).to_have_text(words)
    page.screenshot(path=str(shots / "explore-task.png"), full_page=True)

    page.get_by_test_id("explore-tab-runs").click()
    sync_api.expect(page.get_by_test_id("run-row")).to_have_count(2)
    page.get_by_test_id("run-link").filter(has_text=re.compile("^scripted$")).click()
    run = httpx.get(f"{server.url}/api/runs/scripted").json()
    cells = page.get_by_test_id("heat-cell")
    expected = {
        (kind, tier): rate for kind, tiers in run["heatmap"].items() for tier, rate in tiers.items()
    }
    tiers = {tier for _, tier in expected}
    sync_api.expect(cells).to_have_count(len(run["heatmap"]) * len(tiers))
    broken_cell = page.locator(
        f"[data-testid=heat-cell][data-kind='{task.category}'][data-tier='{task.tier}']"
    )
    rate = expected[(str(task.category), str(task.tier))]
    assert rate is not None and rate < 1
    sync_api.expect(broken_cell).to_have_text(f"{rate * 100:.1f}%")
    assert sum(run["failure_stages"].values()) >= 1
    sync_api.expect(page.get_by_test_id("failure-stage")).to_have_count(len(run["failure_stages"]))

    page.screenshot(path=str(shots / "explore-run.png"), full_page=True)
    page.get_by_test_id("filter-passed").select_option("false")
    failed = page.get_by_test_id("attempt-row")
    sync_api.expect(failed).to_have_count(1)
    sync_api.expect(failed).to_contain_text(broken)
    failed.get_by_test_id("attempt-link").click()
    shown = page.get_by_test_id("expectation-row")
    shown.first.wait_for()
    attempt_id = page.get_by_test_id("attempt-title").inner_text()
    detail = httpx.get(f"{server.url}/api/runs/scripted/attempts/{attempt_id}").json()
    assert detail["task_id"] == broken and detail["passed"] is False
    sync_api.expect(shown).to_have_count(len(detail["expectations"]))
    assert any(not e["passed"] for e in detail["expectations"])
    for i, exp in enumerate(detail["expectations"]):
        row = shown.nth(i)
        assert row.get_attribute("data-passed") == str(exp["passed"]).lower()
        sync_api.expect(row.get_by_test_id("expectation-result")).to_have_text(
            "passed" if exp["passed"] else "failed"
        )
        sync_api.expect(row).to_contain_text(exp["description"])
    sync_api.expect(page.get_by_test_id("attempt-answer")).to_have_text(detail["answer"])
    assert detail["diff"]
    sync_api.expect(page.get_by_test_id("attempt-diff")).to_contain_text("+++ reference")
    page.screenshot(path=str(shots / "explore-attempt.png"), full_page=True)


def test_leaderboard_lists_both_runs(page: Any, server: RunningServer, shots: Path) -> None:
    page.goto(f"{server.url}/#/leaderboard")
    rows = page.get_by_test_id("leaderboard-row")
    sync_api.expect(rows).to_have_count(2)
    board = httpx.get(f"{server.url}/api/leaderboard").json()["items"]
    for i, item in enumerate(board):
        sync_api.expect(rows.nth(i).get_by_test_id("leaderboard-model")).to_have_text(item["model"])
        sync_api.expect(rows.nth(i).get_by_test_id("leaderboard-success")).to_have_text(
            f"{item['success_rate'] * 100:.1f}%"
        )
    assert board[0]["model"] == "oracle:reference" and board[0]["success_rate"] == 1.0
    assert board[1]["success_rate"] < 1.0
    run_links = page.get_by_test_id("leaderboard-run")
    sync_api.expect(run_links).to_have_text(["oracle", "scripted"])
    page.screenshot(path=str(shots / "leaderboard.png"), full_page=True)


def test_downloads_show_the_sha256_of_the_bytes_the_link_sends(
    page: Any, server: RunningServer, downloads: dict[str, Path], shots: Path
) -> None:
    page.goto(f"{server.url}/#/downloads")
    rows = page.get_by_test_id("download-row")
    sync_api.expect(rows).to_have_count(2)
    dataset = rows.filter(has_text="tiny.jsonl")
    data = downloads["dataset"].read_bytes()
    sync_api.expect(dataset.get_by_test_id("download-sha256")).to_have_text(
        hashlib.sha256(data).hexdigest()
    )
    for row, expected in ((dataset, data), (rows.filter(has_text="rbac-lora.tar.gz"), None)):
        shown = row.get_by_test_id("download-sha256").inner_text()
        with page.expect_download() as got:
            row.get_by_test_id("download-link").click()
        body = Path(got.value.path()).read_bytes()
        assert hashlib.sha256(body).hexdigest() == shown
        if expected is not None:
            assert body == expected
        else:
            assert got.value.suggested_filename == "rbac-lora.tar.gz"
    card = page.get_by_test_id("download-card")
    sync_api.expect(card).to_contain_text("A LoRA adapter for <RBAC> tasks & more.")
    page.screenshot(path=str(shots / "downloads.png"), full_page=True)


def test_api_key_is_asked_for_stored_and_sent(
    page: Any,
    problems: list[str],
    start_server: Any,
    runs_dir: Path,
    downloads: dict[str, Path],
) -> None:
    key = "ui-test-key"
    guarded = start_server(api_key=key, runs_dir=runs_dir, register=[downloads["dataset"]])
    assert httpx.get(f"{guarded.url}/api/leaderboard").status_code == 401
    page.goto(f"{guarded.url}/#/leaderboard")
    sync_api.expect(page.get_by_test_id("page-error")).to_contain_text("API key")
    problems.clear()  # the refused requests' console lines

    page.get_by_test_id("api-key").fill(key)
    page.get_by_test_id("api-key").press("Enter")
    page.get_by_test_id("api-key").blur()  # `change` fires; the page reloads with the key
    sync_api.expect(page.get_by_test_id("leaderboard-row")).to_have_count(1)
    assert page.evaluate("localStorage.getItem('kubebench.apiKey')") == key

    # A judged attempt of the fixture run: the judge's scores and rationale as served.
    run = httpx.get(f"{guarded.url}/api/runs", headers={"Authorization": f"Bearer {key}"})
    run_id = run.json()["items"][0]["run_id"]
    attempts = httpx.get(
        f"{guarded.url}/api/runs/{run_id}/attempts", headers={"Authorization": f"Bearer {key}"}
    ).json()["items"]
    judged = None
    for item in attempts:
        detail = httpx.get(
            f"{guarded.url}/api/runs/{run_id}/attempts/{item['attempt_id']}",
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        if detail["judge"]:
            judged = detail
            break
    assert judged is not None, "the fixture run has a judged attempt"
    page.goto(f"{guarded.url}/#/explore/run/{run_id}/attempt/{judged['attempt_id']}")
    rows = page.get_by_test_id("judge-row")
    sync_api.expect(rows).to_have_count(len(judged["judge"]))
    sync_api.expect(rows.first).to_contain_text(judged["judge"][0]["rationale"])

    # The download link cannot carry the key itself: the page fetches with it.
    page.goto(f"{guarded.url}/#/downloads")
    with page.expect_download() as got:
        page.get_by_test_id("download-link").click()
    assert Path(got.value.path()).read_bytes() == downloads["dataset"].read_bytes()
    assert got.value.suggested_filename == "tiny.jsonl"


def _module(page: Any, server: RunningServer, name: str, script: str, arg: Any = None) -> Any:
    """Run `script` (an async function of the module and `arg`) on a module of the UI as
    the server serves it."""
    page.goto(f"{server.url}/static/index.html#/editor")
    return page.evaluate(
        f"async (arg) => ({script})(await import('/static/{name}'), arg)",
        arg,
    )


def test_the_sse_reader_joins_events_cut_anywhere(page: Any, server: RunningServer) -> None:
    pieces = ["apiVersion: v1\n", "kind: ConfigMap  # “ü” 🚀\n", "", "data:\n  a: b\n"]
    events = [{"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}]
    events += [{"choices": [{"delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    events += [{"choices": [{"delta": {}, "finish_reason": "length"}]}, {"choices": []}]
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    body += "data: [DONE]\n\n"
    for size in (1, 3, 7, 64):
        got = _module(
            page,
            server,
            "api.js",
            """async (m, [body, size]) => {
                const bytes = new TextEncoder().encode(body);
                const stream = new ReadableStream({ start(c) {
                    for (let i = 0; i < bytes.length; i += size) {
                        c.enqueue(bytes.slice(i, i + size));
                    }
                    c.close();
                } });
                const parts = [];
                const finish = await m.readChatEvents(stream, (t) => parts.push(t));
                return { text: parts.join(""), count: parts.length, finish };
            }""",
            [body, size],
        )
        assert got == {"text": "".join(pieces), "count": 3, "finish": "length"}, size


def test_yaml_blocks_are_complete_only_when_closed(page: Any, server: RunningServer) -> None:
    got = _module(
        page,
        server,
        "yaml_text.js",
        """async (m) => ({
            open: m.segments("Sure:\\n```yaml\\nkind: ConfigMap\\n", false),
            closed: m.segments("Sure:\\n```yaml\\nkind: ConfigMap\\n```\\nDone.", false),
            cut: m.segments("```yaml\\nkind: ConfigMap\\n", true),
            unlabelled: m.segments("```\\napiVersion: v1\\nkind: Secret\\n```", true),
            python: m.segments("```python\\nprint(1)\\n```", true),
            bareWhileStreaming: m.segments("apiVersion: v1\\nkind: ConfigMap\\n", false),
            bare: m.segments("apiVersion: v1\\nkind: ConfigMap\\n", true),
            prose: m.segments("kind words only", true),
        })""",
    )
    assert [s["type"] for s in got["open"]] == ["text", "yaml"]
    assert got["open"][1]["complete"] is False
    assert [(s["type"], s.get("complete")) for s in got["closed"]] == [
        ("text", None),
        ("yaml", True),
        ("text", None),
    ]
    assert got["cut"] == [
        {"type": "yaml", "lang": "yaml", "text": "kind: ConfigMap\n", "complete": True}
    ]
    assert got["unlabelled"][0]["type"] == "yaml"
    assert got["python"][0]["type"] == "code"
    assert got["bareWhileStreaming"][0]["type"] == "text"
    assert got["bare"] == [
        {"type": "yaml", "text": "apiVersion: v1\nkind: ConfigMap\n", "complete": True}
    ]
    assert got["prose"][0]["type"] == "text"


def test_explained_fields_follow_nesting_lists_and_block_scalars(
    page: Any, server: RunningServer
) -> None:
    yaml_text = (
        "kind: Role  # least privilege\n"
        "metadata:\n"
        "  # where the app runs\n"
        "  namespace: shop\n"
        "rules:\n"
        '- apiGroups: [""]  # core\n'
        "  resources:\n"
        "  - configmaps  # only settings\n"
        "  verbs: [get]\n"
        "- apiGroups: [apps]  # second rule\n"
        "note: |\n"
        "  # not a comment: text of the block\n"
        '  url: "http://x#y"  # nor this\n'
        'title: "a # b"  # quoted hash is not a comment\n'
    )
    rows = _module(page, server, "yaml_text.js", "async (m, y) => m.explainedFields(y)", yaml_text)
    assert [(r["field"], r["reason"]) for r in rows] == [
        ("kind", "least privilege"),
        ("metadata.namespace", "where the app runs"),
        ("rules[0].apiGroups", "core"),
        ("rules[0].resources[0]", "only settings"),
        ("rules[1].apiGroups", "second rule"),
        ("title", "quoted hash is not a comment"),
    ]
    assert rows[-1]["value"] == '"a # b"'
