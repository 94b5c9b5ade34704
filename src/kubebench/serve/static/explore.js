// The explorer: tasks (filters, search, one task's prompt, expectations and reference)
// and runs (a run's kind x tier heatmap, failure stages, attempts; one attempt in full).

import { getJSON } from "./api.js";
import { debounce, el, percent, rateColour, replace, show, table } from "./dom.js";

const PAGE = 50;
const taskFilters = { kind: "", tier: "", operation: "", split: "", q: "", offset: 0 };
const attemptFilters = { kind: "", tier: "", passed: "", offset: 0 };
const seenFacets = { kind: new Set(), tier: new Set(), operation: new Set(), split: new Set() };

const link = (hash, text, testid) => el("a", { href: hash, testid }, text);
const enc = encodeURIComponent;

/** Render the explorer route `parts` (the hash after #/explore/, split on "/"). */
export async function explorePage(root, parts) {
  const [view, id, sub, subId] = parts.map(decodeURIComponent);
  const tabs = el("nav", { class: "tabs" },
    link("#/explore/tasks", "tasks", "explore-tab-tasks"),
    link("#/explore/runs", "runs", "explore-tab-runs"));
  const body = el("div", { class: "explore-body" });
  replace(root, tabs, body);
  const active = view === "run" || view === "runs" ? 1 : 0;
  tabs.children[active].classList.add("active");
  try {
    if (view === "task" && id) await taskDetail(body, id);
    else if (view === "run" && id && sub === "attempt" && subId) await attemptDetail(body, id, subId);
    else if (view === "run" && id) await runDetail(body, id);
    else if (view === "runs") await runList(body);
    else await taskList(body);
  } catch (error) {
    replace(body, el("p", { class: "error", testid: "explore-error" }, error.message));
  }
}

function pager(filters, total, shown, rerender) {
  const from = total ? filters.offset + 1 : 0;
  const to = filters.offset + shown;
  return el("div", { class: "pager" },
    el("button", { type: "button", disabled: filters.offset <= 0, onclick: () => {
      filters.offset = Math.max(0, filters.offset - PAGE);
      rerender();
    } }, "‹ previous"),
    el("span", { testid: "pager-range" }, ` ${from}–${to} of ${total} `),
    el("button", { type: "button", disabled: to >= total, onclick: () => {
      filters.offset += PAGE;
      rerender();
    } }, "next ›"));
}

function facetSelect(name, values, filters, rerender) {
  const select = el("select", { testid: `filter-${name}`, "aria-label": name, onchange: () => {
    filters[name] = select.value;
    filters.offset = 0;
    rerender();
  } }, el("option", { value: "" }, `any ${name}`), [...values].sort().map((v) => el("option", { value: v }, v)));
  select.value = filters[name];
  return select;
}

async function taskList(body) {
  const results = el("div", {});
  const search = el("input", {
    type: "search",
    placeholder: "search prompts and ids",
    testid: "task-search",
    value: taskFilters.q,
  });
  let latest = 0; // an answer to an older filter is dropped
  const rerender = async () => {
    const mine = ++latest;
    const page = await getJSON("/api/tasks", { ...taskFilters, limit: PAGE });
    if (mine !== latest) return;
    replace(results,
      table(["task", "kind", "tier", "operation", "split", "prompt"], page.items.map((task) =>
        el("tr", { testid: "task-row" },
          el("td", {}, link(`#/explore/task/${enc(task.id)}`, task.id, "task-link")),
          el("td", {}, task.kind), el("td", {}, task.tier), el("td", {}, task.operation),
          el("td", {}, task.split), el("td", { class: "prompt" }, task.prompt))), { class: "list" }),
      pager(taskFilters, page.total, page.items.length, rerender));
    results.dataset.ready = "true";
  };
  const first = await getJSON("/api/tasks", { limit: PAGE });
  learnFacets(first);
  const refresh = () => rerender().catch(showError(results));
  replace(body,
    el("div", { class: "toolbar" },
      ["kind", "tier", "operation", "split"].map((name) => facetSelect(name, seenFacets[name], taskFilters, refresh)),
      search),
    results);
  search.addEventListener("input", debounce(() => {
    taskFilters.q = search.value;
    taskFilters.offset = 0;
    refresh();
  }, 300));
  await rerender();
}

/** Fill the filter drop-downs' values from the server's `facets` (every value over all tasks). */
function learnFacets(page) {
  for (const name of Object.keys(seenFacets)) {
    for (const value of page.facets[name] || []) seenFacets[name].add(value);
  }
}

const showError = (node) => (error) => replace(node, el("p", { class: "error" }, error.message));

async function taskDetail(body, id) {
  const task = await getJSON(`/api/tasks/${enc(id)}`);
  replace(body,
    el("p", {}, link("#/explore/tasks", "‹ all tasks")),
    el("h2", { testid: "task-title" }, task.id),
    el("p", { class: "muted" }, [task.kind, task.tier, task.operation, task.split].filter(Boolean).join(" · ")),
    el("h3", {}, "Prompt"),
    el("pre", { class: "prose", testid: "task-prompt" }, task.prompt),
    el("h3", {}, "Expectations"),
    el("ul", { testid: "task-expectations" }, (task.expectations || []).map((e) => el("li", {}, e))),
    el("h3", {}, "Reference"),
    el("pre", { class: "code", testid: "task-reference" }, task.reference));
}

async function runList(body) {
  const page = await getJSON("/api/runs", { limit: 200 });
  replace(body, page.items.length
    ? table(["run", "model", "tasks", "success", "runtime valid", "operational valid", "created"],
        page.items.map((run) => el("tr", { testid: "run-row" },
          el("td", {}, link(`#/explore/run/${enc(run.run_id)}`, run.run_id, "run-link")),
          el("td", {}, run.model), el("td", { class: "num" }, show(run.tasks)),
          el("td", { class: "num" }, percent(run.success_rate)),
          el("td", { class: "num" }, percent(run.runtime_valid_rate)),
          el("td", { class: "num" }, percent(run.operational_valid_rate)),
          el("td", {}, show(run.created)))), { class: "list" })
    : el("p", { class: "muted" }, "No runs in the server's runs folder."));
}

function heatmap(map) {
  const kinds = Object.keys(map || {});
  const tiers = [...new Set(kinds.flatMap((kind) => Object.keys(map[kind])))];
  const order = ["basic", "intermediate", "advanced"];
  tiers.sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  return table(["kind", ...tiers], kinds.map((kind) => el("tr", {},
    el("th", {}, kind),
    tiers.map((tier) => {
      const rate = map[kind][tier];
      return el("td", {
        class: "num heat",
        style: `background:${rateColour(rate)}`,
        testid: "heat-cell",
        dataset: { kind, tier },
      }, percent(rate));
    }))), { class: "heatmap", testid: "run-heatmap" });
}

async function runDetail(body, runId) {
  const run = await getJSON(`/api/runs/${enc(runId)}`);
  const attempts = el("div", { testid: "run-attempts" });
  replace(body,
    el("p", {}, link("#/explore/runs", "‹ all runs")),
    el("h2", { testid: "run-title" }, run.run_id),
    el("p", { class: "muted" }, `model ${run.model} · ${show(run.tasks)} tasks · success ${percent(run.success_rate)}`),
    el("div", { class: "two-columns" },
      el("section", {}, el("h3", {}, "Success by kind and tier"), heatmap(run.heatmap)),
      el("section", {}, el("h3", {}, "Failure stages"),
        Object.keys(run.failure_stages || {}).length
          ? table(["stage", "attempts"], Object.entries(run.failure_stages).map(([stage, count]) =>
              el("tr", { testid: "failure-stage" }, el("td", {}, stage), el("td", { class: "num" }, String(count)))))
          : el("p", { class: "muted" }, "No failures."))),
    el("h3", {}, "Attempts"), attempts);
  const kinds = Object.keys(run.heatmap || {});
  const tiers = [...new Set(kinds.flatMap((kind) => Object.keys(run.heatmap[kind])))];
  let latest = 0;
  const rerender = async () => {
    const mine = ++latest;
    const page = await getJSON(`/api/runs/${enc(runId)}/attempts`, { ...attemptFilters, limit: PAGE });
    if (mine !== latest) return;
    const passedSelect = el("select", { testid: "filter-passed", "aria-label": "passed", onchange: () => {
      attemptFilters.passed = passedSelect.value;
      attemptFilters.offset = 0;
      rerender();
    } }, el("option", { value: "" }, "passed or failed"), el("option", { value: "true" }, "passed"),
    el("option", { value: "false" }, "failed"));
    passedSelect.value = attemptFilters.passed;
    replace(attempts,
      el("div", { class: "toolbar" },
        facetSelect("kind", kinds, attemptFilters, rerender),
        facetSelect("tier", tiers, attemptFilters, rerender),
        passedSelect),
      table(["attempt", "task", "kind", "tier", "sample", "result", "stage"], page.items.map((a) =>
        el("tr", { testid: "attempt-row", class: a.passed ? "" : "failed" },
          el("td", {}, link(`#/explore/run/${enc(runId)}/attempt/${enc(a.attempt_id)}`, a.attempt_id, "attempt-link")),
          el("td", {}, a.task_id), el("td", {}, a.kind), el("td", {}, a.tier),
          el("td", { class: "num" }, show(a.sample)),
          el("td", {}, el("span", { class: a.passed ? "badge valid" : "badge invalid" }, a.passed ? "passed" : "failed")),
          el("td", {}, show(a.stage)))), { class: "list" }),
      pager(attemptFilters, page.total, page.items.length, rerender));
  };
  await rerender();
}

function documentNode(doc) {
  const what = [doc.kind, doc.name].filter(Boolean).join("/") || `document ${(doc.index ?? 0) + 1}`;
  const where = doc.namespace ? ` in ${doc.namespace}` : "";
  const ok = doc.dry_run_ok;
  return el("li", { testid: "attempt-document" },
    el("span", { class: ok ? "badge valid" : "badge invalid" }, ok ? "dry-run ok" : "dry-run failed"), " ",
    el("strong", {}, what), where, doc.applied ? el("span", { class: "muted" }, " · applied") : null,
    doc.message ? el("div", { class: "error" }, doc.reason ? `${doc.reason}: ${doc.message}` : doc.message) : null,
    (doc.causes || []).map((cause) => el("div", { class: "muted small" }, show(cause))),
    (doc.warnings || []).map((warning) => el("div", { class: "warning" }, `warning: ${warning}`)));
}

/** A judge's per-criterion scores, one per line. */
function criteriaNode(score) {
  if (score === null || typeof score !== "object") return show(score);
  return Object.entries(score).map(([name, value]) => el("div", {}, `${name}: ${show(value)}`));
}

function diffNode(diff) {
  if (!diff) return el("p", { class: "muted", testid: "attempt-diff" }, "No difference (or nothing to compare).");
  return el("pre", { class: "code diff", testid: "attempt-diff" }, diff.split("\n").map((line) => {
    const cls = line.startsWith("+++") || line.startsWith("---") ? "meta"
      : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "meta" : "";
    return el("span", { class: `dline ${cls}` }, `${line}\n`);
  }));
}

async function attemptDetail(body, runId, attemptId) {
  const a = await getJSON(`/api/runs/${enc(runId)}/attempts/${enc(attemptId)}`);
  replace(body,
    el("p", {}, link(`#/explore/run/${enc(runId)}`, `‹ run ${runId}`)),
    el("h2", { testid: "attempt-title" }, `${attemptId}`),
    el("p", {},
      el("span", { class: a.passed ? "badge valid" : "badge invalid", testid: "attempt-result" },
        a.passed ? "passed" : `failed at ${a.stage}`), " task ",
      link(`#/explore/task/${enc(a.task_id)}`, a.task_id), el("span", { class: "muted" }, ` · ${a.kind} · ${a.tier} · sample ${show(a.sample)}`)),
    a.reason ? el("p", { class: "muted", testid: "attempt-reason" }, a.reason) : null,
    a.infrastructure_error ? el("p", { class: "error" }, `infrastructure error: ${a.infrastructure_error}`) : null,
    el("h3", {}, "Expectations"),
    (a.expectations || []).length
      ? table(["expectation", "result", "observed"], a.expectations.map((e) =>
          el("tr", { testid: "expectation-row", dataset: { passed: String(Boolean(e.passed)) } },
            el("td", {}, e.description, e.reason ? el("div", { class: "muted small" }, e.reason) : null),
            el("td", {}, el("span", { class: e.passed ? "badge valid" : "badge invalid", testid: "expectation-result" },
              e.passed ? "passed" : "failed")),
            el("td", { class: "observed" }, show(e.observed)))), { class: "list", testid: "attempt-expectations" })
      : el("p", { class: "muted", testid: "attempt-expectations" }, "No expectation was checked."),
    el("h3", {}, "Judge"),
    (a.judge || []).length
      ? table(["scorer", "overall", "criteria", "rationale"], a.judge.map((j) =>
          el("tr", { testid: "judge-row" }, el("td", {}, j.scorer),
            el("td", { class: "num" }, show(j.overall_score ?? (typeof j.score === "number" ? j.score : null))),
            el("td", { class: "small" }, criteriaNode(j.score)),
            el("td", {}, show(j.rationale)))), { class: "list" })
      : el("p", { class: "muted" }, "Not judged."),
    el("div", { class: "two-columns" },
      el("section", {}, el("h3", {}, "Answer"), el("pre", { class: "prose", testid: "attempt-answer" }, a.answer ?? "")),
      el("section", {}, el("h3", {}, "Extracted YAML"), el("pre", { class: "code", testid: "attempt-yaml" }, a.extracted_yaml ?? ""))),
    el("h3", {}, "Dry-run"),
    (a.documents || []).length
      ? el("ul", { class: "docs" }, a.documents.map(documentNode))
      : el("p", { class: "muted" }, "No document reached the dry-run."),
    el("h3", {}, "Diff against the reference"),
    diffNode(a.diff),
    el("details", {}, el("summary", {}, "Reference"), el("pre", { class: "code", testid: "attempt-reference" }, a.reference ?? "")));
}
