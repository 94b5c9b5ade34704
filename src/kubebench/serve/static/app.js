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
// The chat and the editor keep their state (a stream may be running); build them once.
const kept = {};

async function route() {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "chat").split("/");
  const page = ROUTES[name] ? name : "chat";
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", link.dataset.route === page);
  }
  document.title = `KubeBench · ${page}`;
  for (const node of main.children) node.hidden = true;
  let view = document.getElementById(`view-${page}`);
  if (!view) {
    view = el("section", { id: `view-${page}`, class: "view", testid: `view-${page}` });
    main.append(view);
  }
  view.hidden = false;
  if ((page === "chat" || page === "editor") && kept[page]) return;
  kept[page] = true;
  view.dataset.ready = "false";
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
