// Reading YAML out of model answers: fenced blocks, bare YAML answers, and the
// `# reason` comments of explain mode. Plain text scanning; the server does the real
// parsing and validation.

const YAML_LANGS = new Set(["yaml", "yml"]);
const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+.-]*)\s*$/;
const KUBE_LINE = /^(apiVersion|kind)\s*:/m;

/**
 * Split an answer into segments: {type: "text", text} and
 * {type: "yaml", text, complete} for each ```yaml block (or an unlabelled block that
 * reads as a Kubernetes object). `finished` marks the end of the answer: an unclosed
 * block is complete then. A bare YAML answer is one yaml segment.
 */
export function segments(answer, finished) {
  const lines = answer.split("\n");
  const result = [];
  let text = [];
  let block = null; // {fence, lang, lines}
  const flushText = () => {
    if (text.length && text.join("\n").trim()) result.push({ type: "text", text: text.join("\n") });
    text = [];
  };
  for (const line of lines) {
    if (block) {
      const close = line.match(/^\s*(`{3,}|~{3,})\s*$/);
      if (close && close[1][0] === block.fence[0] && close[1].length >= block.fence.length) {
        result.push(closedBlock(block, true));
        block = null;
      } else {
        block.lines.push(line);
      }
      continue;
    }
    const open = line.match(FENCE);
    if (open) {
      flushText();
      block = { fence: open[1], lang: open[2].toLowerCase(), lines: [] };
    } else {
      text.push(line);
    }
  }
  if (block) result.push(closedBlock(block, finished));
  flushText();
  if (finished && result.length === 1 && result[0].type === "text" && isBareYaml(answer)) {
    return [{ type: "yaml", text: answer.trim() + "\n", complete: true }];
  }
  return result;
}

function closedBlock(block, complete) {
  const text = block.lines.join("\n").replace(/\n+$/, "") + "\n";
  const yaml = YAML_LANGS.has(block.lang) || (block.lang === "" && KUBE_LINE.test(text));
  return { type: yaml ? "yaml" : "code", lang: block.lang, text, complete };
}

/** True when the whole answer reads as YAML: its first real line starts a document. */
export function isBareYaml(answer) {
  const first = answer
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line && !line.startsWith("#"));
  return Boolean(first) && /^(---|apiVersion\s*:|kind\s*:)/.test(first) && KUBE_LINE.test(answer);
}

/** The comment part of a YAML line (after an unquoted `#`), or null. */
function trailingComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
      return { code: line.slice(0, i).trimEnd(), comment: line.slice(i + 1).trim() };
    }
  }
  return { code: line, comment: null };
}

const KEY = /^("[^"]*"|'[^']*'|[^\s#'"\-][^#]*?|-[^\s][^#]*?)\s*:(?:\s+(.*))?$/;

/**
 * The fields of a YAML text with the `# reason` comment each one carries (on its line,
 * or on comment lines just above it): [{field: "spec.containers[0].image", value, reason}].
 */
export function explainedFields(yaml) {
  const rows = [];
  let stack = []; // {indent, kind: "key"|"item", name, items}
  let pending = [];
  let scalarIndent = null; // inside a block scalar (| or >) deeper than this indent
  let documentIndex = 0;
  for (const raw of yaml.split("\n")) {
    const indent = raw.length - raw.trimStart().length;
    if (scalarIndent !== null) {
      if (!raw.trim() || indent > scalarIndent) continue;
      scalarIndent = null;
    }
    const trimmed = raw.trim();
    if (!trimmed) continue;
    if (/^---/.test(trimmed)) {
      if (stack.length || rows.length) documentIndex += 1;
      stack = [];
      pending = [];
      continue;
    }
    if (trimmed.startsWith("#")) {
      pending.push(trimmed.replace(/^#+\s?/, ""));
      continue;
    }
    const { code, comment } = trailingComment(raw);
    const dashes = code.slice(indent).match(/^((?:-\s+|-$)*)/)[1];
    if (dashes) {
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.indent > indent || (top.indent === indent && top.kind === "item")) stack.pop();
        else break;
      }
      const parent = stack[stack.length - 1];
      const index = parent ? (parent.items = (parent.items ?? -1) + 1) : 0;
      stack.push({ indent, kind: "item", name: `[${index}]` });
    }
    const keyIndent = indent + dashes.length;
    const rest = code.slice(keyIndent);
    const key = rest.match(KEY);
    const reasons = comment ? [...pending, comment] : pending;
    pending = [];
    if (!key) {
      // A scalar list item (`- value  # reason`).
      if (dashes && reasons.length) {
        rows.push({ document: documentIndex, field: pathOf(stack), value: rest, reason: reasons.join(" ") });
      }
      continue;
    }
    while (stack.length && stack[stack.length - 1].indent >= keyIndent) stack.pop();
    const name = key[1].replace(/^["']|["']$/g, "");
    stack.push({ indent: keyIndent, kind: "key", name });
    const value = (key[2] || "").trim();
    if (/^[|>][-+0-9]*$/.test(value)) scalarIndent = keyIndent;
    if (reasons.length) {
      rows.push({ document: documentIndex, field: pathOf(stack), value, reason: reasons.join(" ") });
    }
  }
  const multi = rows.some((row) => row.document > 0);
  return rows.map((row) => ({
    field: multi ? `[doc ${row.document + 1}] ${row.field}` : row.field,
    value: row.value,
    reason: row.reason,
  }));
}

function pathOf(stack) {
  let path = "";
  for (const part of stack) {
    if (part.kind === "item") path += part.name;
    else path += path ? `.${part.name}` : part.name;
  }
  return path;
}

/** The system prompt explain mode adds to a conversation. */
export const EXPLAIN_PROMPT =
  "Explain mode: in every YAML block you write, end the line of every field with a " +
  "comment giving the reason for its value, in the form `field: value  # reason`. " +
  "Keep the YAML valid and put it in ```yaml fenced blocks.";
