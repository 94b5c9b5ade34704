// The single page: hash routes, the API key field, and one view per route.

import { apiKey, setApiKey } from "./api.js";
import { chatPage } from "./chat.js";
import { el, replace } from "./dom.js";
import { editorPage } from "./editor.js";
import { explorePage } from "./explore.js";
import { downloadsPage, leaderboardPage } from "./tables.js";

const ROUTES = {
  chat: chatPage,
  editor: editorPage,
  explore: explorePage,
  leaderboard: leaderboardPage,
  downloads: downloadsPage,
};

const main = document.getElementById("main");
// The chat and the editor keep their state (a stream may be running); built once.
const KEPT = new Set(["chat", "editor"]);

async function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "chat").split("/");
  const page = ROUTES[name] ? name : "chat";
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", link.dataset.route === page);
  }
  document.title = `KubeBench · ${page}`;
  for (const node of main.children) node.hidden = true;
  let view = document.getElementById(`view-${page}`);
  if (view && KEPT.has(page)) {
    view.hidden = false;
    return;
  }
  // Other pages are built afresh on each visit, in a new element: a slower, older
  // render then fills a detached element instead of overwriting the newer one.
  const fresh = el("section", { id: `view-${page}`, class: "view", testid: `view-${page}` });
  if (view) view.replaceWith(fresh);
  else main.append(fresh);
  view = fresh;
  view.dataset.ready = "false";
  view.append(el("p", { class: "muted" }, "loading…"));
  try {
    await ROUTES[page](view, rest.filter(Boolean));
  } catch (error) {
    replace(view, el("p", { class: "error", testid: "page-error" }, error.message));
  }
  view.dataset.ready = "true";
}

function keyField() {
  const input = document.getElementById("api-key");
  input.value = apiKey();
  input.addEventListener("change", () => {
    setApiKey(input.value.trim());
    // Every view reloads with the new key; the chat and the editor are kept in localStorage.
    location.reload();
  });
}

keyField();
window.addEventListener("hashchange", route);
route();
