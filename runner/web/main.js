// Warden dashboard: login, the router and the keyboard shortcuts.
"use strict";

function loginPage(error) {
  const issuers = W.el("div", { class: "issuers" });
  const form = W.el("form", { "aria-label": "Log in with an API token" },
    W.el("label", { for: "token", text: "API token" }),
    W.el("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true }),
    W.el("button", { type: "submit", class: "primary", text: "Log in with token" }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await W.api("POST", "/dashboard/auth/token", { token: form.elements.token.value });
      location.hash = "#/sessions";
      await boot();
    } catch (e) { W.toast(e.message, true); }
  });
  const main = W.page("Log in", W.el("div", { class: "login" },
    error ? W.el("p", { class: "bad", role: "alert", text: error }) : null,
    issuers, W.el("h2", { text: "or" }), form));
  W.api("GET", "/dashboard/auth/config").then((config) => {
    for (const issuer of config.issuers) {
      issuers.append(W.el("a", { class: "button primary", href: "/dashboard/auth/oidc/start?issuer=" + issuer.index,
        text: "Log in with " + issuer.label }));
    }
  }).catch((e) => W.toast(e.message, true));
  return main;
}

function route() {
  for (const undo of W.cleanup.splice(0)) undo();
  W.shortcuts = {};
  const hash = location.hash || "#/sessions";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "login" || !W.me) return loginPage(params.get("error"));
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", link.dataset.page === parts[0]);
    if (link.dataset.page === parts[0]) link.setAttribute("aria-current", "page");
  }
  const page = W.pages[parts[0]] || W.pages.sessions;
  page(parts.slice(1), params);
}

async function boot() {
  try {
    W.me = await W.api("GET", "/dashboard/auth/me");
  } catch (e) {
    W.me = null;
  }
  const nav = document.getElementById("nav");
  nav.hidden = !W.me;
  document.getElementById("logout").hidden = !W.me || !W.me.authEnforced;
  document.getElementById("who").textContent = W.me ? W.me.subject + " (" + W.me.roles.join(", ") + ")" : "";
  for (const link of nav.querySelectorAll("a[data-role]")) {
    // A person is shown no page they cannot use (the API refuses it anyway).
    link.hidden = !W.hasRole(link.dataset.role);
  }
  if (W.me) W.watchWaiting();
  route();
}

document.getElementById("logout").addEventListener("click", async () => {
  await W.api("POST", "/dashboard/auth/logout").catch(() => {});
  W.me = null;
  location.hash = "#/login";
  boot();
});

let pendingG = false;
// Capture phase on window: runs before term.js's own document-level key handler, which
// would otherwise take the keys while a terminal thinks it has the focus.
window.addEventListener("keydown", (ev) => {
  const target = ev.target;
  if (target.closest && target.closest("input, textarea, select, .terminal")) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const help = document.getElementById("help");
  if (ev.key === "?") { help.showModal(); ev.preventDefault(); ev.stopPropagation(); return; }
  if (pendingG) {
    pendingG = false;
    const go = { s: "#/sessions", a: "#/audit", p: "#/policies" }[ev.key];
    if (go) { location.hash = go; ev.preventDefault(); }
    return;
  }
  if (ev.key === "g") { pendingG = true; return; }
  const action = W.shortcuts[ev.key];
  if (action) { action(); ev.preventDefault(); ev.stopPropagation(); }
}, true);

window.addEventListener("hashchange", route);
boot();
