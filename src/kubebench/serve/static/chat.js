// The chat page: pick a model, stream answers, validate every YAML block on the server.
// The conversation lives in localStorage so that it survives a reload.

import { getJSON, streamChat } from "./api.js";
import { el, replace } from "./dom.js";
import { yamlBlock } from "./yaml_block.js";
import { EXPLAIN_PROMPT, segments } from "./yaml_text.js";

const STORAGE = "kubebench.chat";
const MAX_CONTEXT_BYTES = 256 * 1024;

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE) || "{}");
    return {
      model: saved.model || "",
      explain: Boolean(saved.explain),
      // An answer cut off by a reload is finished as far as this page knows.
      messages: (Array.isArray(saved.messages) ? saved.messages : []).map((m) => ({ ...m, streaming: false })),
    };
  } catch {
    return { model: "", explain: false, messages: [] };
  }
}

export function chatPage(root) {
  const state = load();
  let context = null; // {name, text} of an uploaded YAML file
  let controller = null; // AbortController of the answer being streamed

  const save = () => localStorage.setItem(STORAGE, JSON.stringify(state));
  const modelSelect = el("select", { testid: "chat-model", "aria-label": "model" });
  const explainBox = el("input", { type: "checkbox", testid: "chat-explain", checked: state.explain });
  const fileInput = el("input", { type: "file", accept: ".yaml,.yml,.json,.txt", testid: "chat-upload" });
  const contextChip = el("span", { class: "chip", testid: "chat-context", hidden: true });
  const log = el("div", { class: "chat-log", testid: "chat-log", "aria-live": "polite" });
  const input = el("textarea", {
    rows: 3,
    testid: "chat-input",
    placeholder: "Ask for Kubernetes YAML… (Ctrl+Enter sends)",
  });
  const sendButton = el("button", { type: "submit", testid: "chat-send" }, "send");
  const stopButton = el("button", { type: "button", testid: "chat-stop", hidden: true }, "stop");
  const status = el("p", { class: "status", testid: "chat-status" });

  modelSelect.addEventListener("change", () => {
    state.model = modelSelect.value;
    save();
  });
  explainBox.addEventListener("change", () => {
    state.explain = explainBox.checked;
    save();
    render();
  });
  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (file.size > MAX_CONTEXT_BYTES) {
      status.textContent = `${file.name} is larger than ${MAX_CONTEXT_BYTES / 1024} KiB; not attached`;
      return;
    }
    context = { name: file.name, text: await file.text() };
    contextChip.hidden = false;
    replace(contextChip, `context: ${file.name} `,
      el("button", { type: "button", class: "link", testid: "chat-context-remove", onclick: () => {
        context = null;
        contextChip.hidden = true;
      } }, "×"));
  });
  stopButton.addEventListener("click", () => controller && controller.abort());
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  const form = el("form", { class: "chat-form", onsubmit: (event) => {
    event.preventDefault();
    send();
  } }, input, el("div", { class: "row" }, sendButton, stopButton));

  replace(root,
    el("div", { class: "toolbar" },
      el("label", {}, "model ", modelSelect),
      el("label", { title: "Ask the model to comment every field with its reason" }, explainBox, " explain mode"),
      el("label", { class: "button" }, "upload YAML as context", fileInput),
      contextChip,
      el("span", { class: "spacer" }),
      el("button", { type: "button", testid: "chat-new", onclick: () => {
        if (controller) controller.abort();
        state.messages = [];
        save();
        render();
      } }, "new chat")),
    log, form, status);

  loadModels();
  render();

  async function loadModels() {
    try {
      const models = await getJSON("/v1/models");
      const ids = (models.data || []).map((model) => model.id);
      replace(modelSelect, ids.map((id) => el("option", { value: id }, id)));
      if (ids.includes(state.model)) modelSelect.value = state.model;
      else state.model = ids[0] || "";
      if (!ids.length) status.textContent = "The server serves no chat model (start it with --model).";
    } catch (error) {
      status.textContent = `models: ${error.message}`;
    }
  }

  function render() {
    replace(log, state.messages.length
      ? state.messages.map((message, i) => messageNode(message, i))
      : el("p", { class: "muted" }, "No messages yet."));
    log.scrollTop = log.scrollHeight;
  }

  function messageNode(message, i) {
    const body = el("div", { class: "body" });
    if (message.role === "user") {
      body.append(el("div", { class: "text" }, message.text ?? message.content));
      if (message.attachment) body.append(el("span", { class: "chip" }, `context: ${message.attachment}`));
    } else if (message.error) {
      body.append(el("div", { class: "text error", testid: "chat-error" }, message.error));
    } else {
      let blockIndex = 0;
      for (const part of segments(message.content, !message.streaming)) {
        if (part.type === "yaml") {
          body.append(yamlBlock(part, blockIndex, { explain: message.explain }));
          blockIndex += 1;
        } else if (part.type === "code") {
          body.append(el("pre", { class: "code" }, part.text));
        } else {
          body.append(el("div", { class: "text" }, part.text));
        }
      }
      if (message.streaming) body.append(el("span", { class: "cursor" }, "▍"));
    }
    return el("div", {
      class: `message ${message.role}`,
      testid: `chat-message-${message.role}`,
      dataset: { index: String(i), done: message.streaming ? "false" : "true" },
    }, el("div", { class: "role" }, message.role), body);
  }

  async function send() {
    const text = input.value.trim();
    if (!text || controller) return;
    if (!state.model) {
      status.textContent = "Pick a model first.";
      return;
    }
    const content = context
      ? `${text}\n\nContext file ${context.name}:\n\`\`\`yaml\n${context.text.replace(/\n$/, "")}\n\`\`\``
      : text;
    state.messages.push({ role: "user", content, text, attachment: context && context.name });
    context = null;
    contextChip.hidden = true;
    input.value = "";
    const history = state.messages
      .filter((m) => !m.error)
      .map((m) => ({ role: m.role, content: m.content }));
    const messages = state.explain ? [{ role: "system", content: EXPLAIN_PROMPT }, ...history] : history;
    const answer = { role: "assistant", content: "", streaming: true, explain: state.explain, model: state.model };
    state.messages.push(answer);
    save();
    render();
    controller = new AbortController();
    sendButton.disabled = true;
    stopButton.hidden = false;
    status.textContent = "";
    let scheduled = false;
    try {
      await streamChat({ model: state.model, messages }, (delta) => {
        answer.content += delta;
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(() => {
            scheduled = false;
            render();
          });
        }
      }, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") status.textContent = "stopped";
      else if (!answer.content) answer.error = error.message;
      else status.textContent = error.message;
    } finally {
      answer.streaming = false;
      controller = null;
      sendButton.disabled = false;
      stopButton.hidden = true;
      save();
      render();
    }
  }
}
