// One YAML block of a chat answer: its lines, the server's verdict (a badge, and each
// document's message next to the line it concerns), copy and download buttons, and in
// explain mode the table of fields and their `# reason` comments.

import { validate } from "./api.js";
import { copyText, downloadText, el, table } from "./dom.js";
import { explainedFields } from "./yaml_text.js";

// Verdicts by block text: a block re-rendered while the answer streams is sent once.
const verdicts = new Map();

/** The server's verdict on `text` (a promise, shared by every caller for that text). */
export function verdictOf(text) {
  if (!verdicts.has(text)) {
    const pending = validate(text).catch((error) => ({ error: error.message }));
    verdicts.set(text, pending);
  }
  return verdicts.get(text);
}

/** A rendered YAML block; `complete` blocks are validated, `explain` adds the table. */
export function yamlBlock(block, index, { explain }) {
  const badge = el("span", { class: "badge pending", testid: "yaml-badge" }, "writing…");
  const lines = el("div", { class: "yaml-lines" }, lineNodes(block.text));
  const node = el(
    "div",
    { class: "yaml-block", testid: "yaml-block", dataset: { index: String(index) } },
    el(
      "div",
      { class: "yaml-toolbar" },
      badge,
      el("span", { class: "spacer" }),
      el("button", {
        type: "button",
        testid: "yaml-copy",
        onclick: async (event) => {
          await copyText(block.text);
          flash(event.target, "copied");
        },
      }, "copy"),
      el("button", {
        type: "button",
        testid: "yaml-download",
        onclick: () => downloadText(block.text, `answer-${index + 1}.yaml`),
      }, "download"),
    ),
    lines,
  );
  if (explain) {
    const rows = explainedFields(block.text);
    node.append(
      rows.length
        ? table(
            ["field", "reason"],
            rows.map((row) =>
              el("tr", {},
                el("td", {}, el("code", {}, row.field), row.value ? el("span", { class: "muted" }, ` = ${row.value}`) : null),
                el("td", {}, row.reason)),
            ),
            { class: "explain", testid: "explain-table" },
          )
        : el("p", { class: "muted", testid: "explain-empty" }, "No `# reason` comments in this block."),
    );
  }
  if (block.complete) {
    badge.textContent = "validating…";
    verdictOf(block.text).then((verdict) => showVerdict(verdict, badge, lines));
  }
  return node;
}

function lineNodes(text) {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.map((line, i) =>
    el("div", { class: "yaml-line", dataset: { line: String(i + 1) } },
      el("span", { class: "lineno" }, String(i + 1)),
      el("code", {}, line || " ")),
  );
}

function showVerdict(verdict, badge, lines) {
  if (verdict.error) {
    badge.className = "badge error";
    badge.textContent = `not validated: ${verdict.error}`;
    return;
  }
  const bad = (verdict.documents || []).filter((doc) => !doc.valid);
  if (verdict.valid && !bad.length) {
    badge.className = "badge valid";
    badge.textContent = "valid";
  } else {
    badge.className = "badge invalid";
    badge.textContent = `invalid: ${bad.map(describeDocument).join("; ") || "no documents"}`;
  }
  for (const doc of verdict.documents || []) {
    const notes = [];
    if (!doc.valid && doc.message) notes.push(["line-error", doc.message, "yaml-line-error"]);
    for (const warning of doc.warnings || []) notes.push(["line-warning", `warning: ${warning}`, "yaml-line-warning"]);
    if (!notes.length) continue;
    const lineNumber = doc.line_of_error || doc.line || 1;
    const rows = lines.querySelectorAll(".yaml-line");
    const anchor = rows[Math.min(Math.max(lineNumber, 1), rows.length) - 1];
    for (const [cls, text, testid] of notes.reverse()) {
      const note = el("div", { class: cls, testid, dataset: { line: String(lineNumber) } },
        el("span", { class: "lineno" }, "↳"), el("span", {}, text));
      if (anchor) anchor.after(note);
      else lines.append(note);
    }
  }
}

/** "ConfigMap/Bad_Name (dry_run): message" for an invalid document. */
export function describeDocument(doc) {
  const what = [doc.kind, doc.name].filter(Boolean).join("/") || `document ${doc.index + 1}`;
  return `${what} (${doc.stage}): ${doc.message || "invalid"}`;
}

function flash(button, text) {
  const before = button.textContent;
  button.textContent = text;
  setTimeout(() => {
    button.textContent = before;
  }, 1200);
}
