// Same-origin calls to the server's routes (see the HTTP contract), with the optional
// API key from localStorage sent as `Authorization: Bearer`.

const KEY_STORAGE = "kubebench.apiKey";

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Headers for a request: JSON body type and the API key when one is stored. */
export function headers(extra = {}) {
  const result = { ...extra };
  const key = apiKey();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

/** An HTTP error with the server's one-line message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
    else if (body && typeof body.detail === "string") message = body.detail;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) message = `${message} (enter the API key at the top right)`;
  return new ApiError(response.status, message);
}

/** GET a JSON route; `params` become the query string (empty values are left out). */
export async function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: headers() });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** POST a JSON body to a route and return the JSON answer. */
export async function postJSON(path, body, signal) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** POST /v1/validate: the server's verdict on a multi-document YAML text. */
export function validate(yaml, signal) {
  return postJSON("/v1/validate", { yaml }, signal);
}

/** Fetch a route's body as a Blob (for downloads that need the API key). */
export async function getBlob(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await errorOf(response);
  return response.blob();
}

/**
 * Stream a chat completion: POST with stream:true and read the SSE body chunk by chunk.
 * `onText(delta)` gets each new piece of the answer; resolves with the finish reason.
 */
export async function streamChat(body, onText, signal) {
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify({ ...body, stream: true }),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return readChatEvents(response.body, onText);
}

/**
 * Read an OpenAI chat SSE body (a ReadableStream of bytes, cut anywhere: inside an
 * event, a line or a UTF-8 character): `onText(delta)` per piece of content; resolves
 * with the finish reason at `data: [DONE]` or the end of the body.
 */
export async function readChatEvents(body, onText) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finish = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    // Events end with a blank line; keep the unfinished tail for the next read.
    const events = buffer.split(/\r?\n\r?\n/);
    buffer = events.pop();
    for (const event of events) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") {
        await reader.cancel();
        return finish;
      }
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(0, chunk.error.message || "stream error");
      const choice = (chunk.choices || [])[0];
      if (!choice) continue;
      const text = (choice.delta && choice.delta.content) || "";
      if (text) onText(text);
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return finish;
}
