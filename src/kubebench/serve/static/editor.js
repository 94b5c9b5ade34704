// The editor page: multi-document YAML validated on the server as you type; each
// invalid document's message is pinned to it and its lines are highlighted.

import { validate } from "./api.js";
import { debounce, el, replace } from "./dom.js";

const STORAGE = "kubebench.editor";
const DEBOUNCE_MS = 400;
const EXAMPLE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
`;

export function editorPage(root) {
  const area = el("textarea", {
    class: "editor-input",
    testid: "editor-input",
    spellcheck: "false",
    wrap: "off",
    "aria-label": "YAML",
  });
  area.value = localStorage.getItem(STORAGE) ?? EXAMPLE;
  const backdrop = el("div", { class: "editor-backdrop", "aria-hidden": "true" });
  const gutter = el("div", { class: "editor-gutter", "aria-hidden": "true" });
  const status = el("span", { class: "badge pending", testid: "editor-status" }, "not checked");
  const list = el("ol", { class: "doc-list", testid: "editor-docs" });
  let sequence = 0; // answers to older texts are dropped
  let controller = null;
  let verdict = null;

  replace(root,
    el("div", { class: "toolbar" },
      el("strong", {}, "YAML editor"),
      el("span", { class: "muted" }, " — checked by the server's dry-run as you type"),
      el("span", { class: "spacer" }),
      status),
    el("div", { class: "editor-layout" },
      el("div", { class: "editor-frame" }, gutter, el("div", { class: "editor-stack" }, backdrop, area)),
      el("aside", { class: "editor-side" }, el("h3", {}, "Documents"), list)));

  const check = debounce(async () => {
    const text = area.value;
    const mine = ++sequence;
    if (controller) controller.abort();
    controller = new AbortController();
    status.className = "badge pending";
    status.textContent = "checking…";
    try {
      const result = await validate(text, controller.signal);
      if (mine !== sequence) return;
      verdict = result;
      showVerdict();
    } catch (error) {
      if (error.name === "AbortError" || mine !== sequence) return;
      verdict = null;
      status.className = "badge error";
      status.textContent = error.message;
      replace(list);
    }
    paint();
  }, DEBOUNCE_MS);

  area.addEventListener("input", () => {
    localStorage.setItem(STORAGE, area.value);
    verdict = null;
    paint();
    check();
  });
  area.addEventListener("scroll", () => {
    backdrop.scrollTop = area.scrollTop;
    backdrop.scrollLeft = area.scrollLeft;
    gutter.scrollTop = area.scrollTop;
  });

  function showVerdict() {
    const docs = verdict.documents || [];
    const bad = docs.filter((doc) => !doc.valid);
    if (!docs.length) {
      status.className = "badge pending";
      status.textContent = "no documents";
    } else if (!bad.length) {
      status.className = "badge valid";
      status.textContent = docs.length === 1 ? "valid" : `valid (${docs.length} documents)`;
    } else {
      status.className = "badge invalid";
      status.textContent = `${bad.length} of ${docs.length} invalid`;
    }
    replace(list, docs.map((doc) =>
      el("li", {
        class: doc.valid ? "doc ok" : "doc bad",
        testid: doc.valid ? "editor-doc-ok" : "editor-doc-error",
        dataset: { index: String(doc.index), line: String(doc.line) },
        onclick: () => selectDocument(doc),
      },
      el("div", {}, el("span", { class: "lineno" }, `line ${doc.line}`), " ",
        el("strong", {}, [doc.kind, doc.name].filter(Boolean).join("/") || `document ${doc.index + 1}`)),
      doc.valid
        ? el("div", { class: "muted" }, "valid")
        : el("div", { class: "doc-message", testid: "editor-doc-message" },
            doc.line_of_error ? `line ${doc.line_of_error}: ` : "", `${doc.stage}: ${doc.message || "invalid"}`),
      (doc.warnings || []).map((w) => el("div", { class: "warning" }, `warning: ${w}`)),
      (doc.causes || []).map((c) => el("div", { class: "cause" }, [c.field, c.message].filter(Boolean).join(": "))),
      )));
  }

  /** Lines of each document: [start, end] (1-based, inclusive) from the documents' first lines. */
  function ranges() {
    const docs = (verdict && verdict.documents) || [];
    const all = area.value.split("\n");
    // A final newline does not start a line of the last document.
    const total = all.length - (all.length > 1 && all[all.length - 1] === "" ? 1 : 0);
    return docs.map((doc, i) => ({
      doc,
      start: doc.line,
      end: i + 1 < docs.length ? docs[i + 1].line - 1 : total,
    }));
  }

  function selectDocument(doc) {
    const range = ranges().find((r) => r.doc === doc);
    if (!range) return;
    const lines = area.value.split("\n");
    const from = lines.slice(0, range.start - 1).join("\n").length + (range.start > 1 ? 1 : 0);
    const to = lines.slice(0, range.end).join("\n").length;
    area.focus();
    area.setSelectionRange(from, to);
  }

  // The backdrop mirrors the text line by line under the transparent textarea, so that
  // the lines of an invalid document can carry a background.
  function paint() {
    const lines = area.value.split("\n");
    const bad = new Map();
    for (const { doc, start, end } of ranges()) {
      if (doc.valid) continue;
      for (let n = start; n <= end; n += 1) bad.set(n, doc);
      if (doc.line_of_error) bad.set(doc.line_of_error, { ...doc, exact: true });
    }
    replace(backdrop, lines.map((line, i) => {
      const doc = bad.get(i + 1);
      const cls = doc ? (doc.exact ? "bline bad exact" : "bline bad") : "bline";
      return el("div", { class: cls, testid: doc ? "editor-bad-line" : undefined }, line || " ");
    }));
    replace(gutter, lines.map((_, i) => el("div", {}, String(i + 1))));
  }

  paint();
  check();
}
