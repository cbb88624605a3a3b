// The web app's router: one shell page (src/web/routes.ts) for every /app URL; each route renders
// from the JSON API. Links within the app navigate without reloading.
import { apiKey, setApiKey } from "./api.js";
import { errorBox, render } from "./dom.js";
import { go, leavePage, setShowPage } from "./nav.js";

const routes = [
  [/^\/app\/?$/, () => import("./datasets.js").then((m) => m.datasetList())],
  [
    /^\/app\/datasets\/([^/]+)\/rows\/(\d+)$/,
    (name, idx) => import("./record.js").then((m) => m.recordPage(decodeURIComponent(name), Number(idx))),
  ],
  [/^\/app\/datasets\/([^/]+)$/, (name) => import("./datasets.js").then((m) => m.datasetPage(decodeURIComponent(name)))],
  [/^\/app\/judge$/, () => import("./judge.js").then((m) => m.judgePage())],
  [/^\/app\/jobs$/, () => import("./jobs.js").then((m) => m.jobList())],
  [
    /^\/app\/jobs\/([^/]+)\/([^/]+)$/,
    (name, id) => import("./jobs.js").then((m) => m.jobPage(decodeURIComponent(name), decodeURIComponent(id))),
  ],
];

async function show() {
  leavePage();
  performance.mark("iopo:navigate");
  const path = location.pathname;
  for (const nav of document.querySelectorAll("header nav a")) {
    const href = nav.getAttribute("href");
    const current = href === "/app" ? path === "/app" || path.startsWith("/app/datasets") : path.startsWith(href);
    if (current) nav.setAttribute("aria-current", "page");
    else nav.removeAttribute("aria-current");
  }
  for (const [pattern, page] of routes) {
    const m = pattern.exec(path);
    if (!m) continue;
    try {
      await page(...m.slice(1));
    } catch (error) {
      render(errorBox(error));
    }
    return;
  }
  render(errorBox(new Error(`No page at ${path}.`)));
}

document.addEventListener("click", (event) => {
  const a = event.target.closest?.("a[href^='/app']");
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || a.target) return;
  event.preventDefault();
  go(a.getAttribute("href"));
});
addEventListener("popstate", show);
setShowPage(show);

const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("api-key");
keyInput.value = apiKey();
keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(keyInput.value.trim());
  show();
});

show();
