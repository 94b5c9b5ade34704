// The leaderboard and the downloads pages: one table each.

import { getBlob, getJSON } from "./api.js";
import { downloadBlob, el, humanSize, percent, replace, show, table } from "./dom.js";

export async function leaderboardPage(root) {
  const board = await getJSON("/api/leaderboard");
  replace(root,
    el("h2", {}, "Leaderboard"),
    el("p", { class: "muted" }, "Success rate with its 95% Wilson interval, best first."),
    board.items.length
      ? table(["#", "model", "config", "tasks", "success", "95% interval", "runs"], board.items.map((row, i) =>
          el("tr", { testid: "leaderboard-row" },
            el("td", { class: "num" }, String(row.rank ?? i + 1)),
            el("td", { testid: "leaderboard-model" }, row.model),
            el("td", { class: "small" }, typeof row.config === "string" ? row.config : show(row.config)),
            el("td", { class: "num" }, show(row.tasks)),
            el("td", { class: "num", testid: "leaderboard-success" }, percent(row.success_rate)),
            el("td", { class: "num" }, `${percent(row.ci_low)} – ${percent(row.ci_high)}`),
            el("td", {}, (row.run_ids || []).map((id) =>
              el("a", { href: `#/explore/run/${encodeURIComponent(id)}`, class: "run-id", testid: "leaderboard-run" }, id))))),
          { class: "list", testid: "leaderboard" })
      : el("p", { class: "muted", testid: "leaderboard" }, "No runs yet."));
}

export async function downloadsPage(root) {
  const list = await getJSON("/api/downloads");
  const cards = el("div", { class: "cards" });
  replace(root,
    el("h2", {}, "Downloads"),
    list.items.length
      ? table(["name", "kind", "size", "sha256", ""], list.items.map((item) => {
          const href = `/downloads/${encodeURIComponent(item.id)}`;
          const anchor = el("a", { href, download: item.name, testid: "download-link", dataset: { id: item.id } }, "download");
          // A plain link cannot send the API key; with one stored, fetch and save a blob.
          anchor.addEventListener("click", async (event) => {
            if (!localStorage.getItem("kubebench.apiKey")) return;
            event.preventDefault();
            try {
              downloadBlob(await getBlob(href), item.name);
            } catch (error) {
              anchor.after(el("span", { class: "error" }, ` ${error.message}`));
            }
          });
          return el("tr", { testid: "download-row", dataset: { id: item.id } },
            el("td", { testid: "download-name" }, item.name),
            el("td", {}, item.kind),
            el("td", { class: "num", title: `${item.size} bytes` }, humanSize(item.size)),
            el("td", {}, el("code", { class: "hash", testid: "download-sha256" }, item.sha256)),
            el("td", {}, anchor));
        }), { class: "list", testid: "downloads" })
      : el("p", { class: "muted", testid: "downloads" }, "Nothing registered (start the server with --register PATH)."),
    cards);
  for (const item of list.items.filter((i) => i.card)) {
    cards.append(el("section", { class: "card", testid: "download-card", dataset: { id: item.id } },
      el("h3", {}, `${item.name} — card`),
      el("pre", { class: "prose" }, item.card)));
  }
}
