// The sessions list, kept live over SSE, and the "waiting for a person" badge.
"use strict";

const WAITING = ["permission_prompt", "asking"];
W.sessionListeners = new Set();

W.watchWaiting = function () {
  if (W.globalSource) return;
  let timer = null;
  const refresh = async () => {
    try {
      const { sessions } = await W.api("GET", "/v1/sessions");
      const waiting = sessions.filter((s) => WAITING.includes(s.state)).length;
      const badge = document.getElementById("waiting");
      badge.textContent = String(waiting);
      badge.hidden = waiting === 0;
      for (const listener of W.sessionListeners) listener(sessions);
    } catch (e) { /* shown on the page that needs it */ }
  };
  const types = ["session.created", "session.state", "session.ended", "usage"];
  W.globalSource = new EventSource("/v1/events", { withCredentials: true });
  for (const type of types) {
    W.globalSource.addEventListener(type, () => { clearTimeout(timer); timer = setTimeout(refresh, 100); });
  }
  W.globalSource.addEventListener("open", refresh);
};

W.pages.sessions = function () {
  const state = W.el("select", { id: "f-state", name: "state" },
    W.el("option", { value: "", text: "any" }),
    ["starting", "idle", "working", "permission_prompt", "asking", "stalled", "exited", "error"]
      .map((s) => W.el("option", { value: s, text: s })));
  const owner = W.el("input", { id: "f-owner", name: "owner", placeholder: "owner" });
  const policy = W.el("input", { id: "f-policy", name: "policy", placeholder: "policy" });
  const search = W.el("input", { id: "f-search", type: "search", name: "q", placeholder: "id, workdir…" });
  const body = W.el("tbody", { id: "sessions" });
  const table = W.el("table", { "aria-label": "Sessions" },
    W.el("thead", {}, W.el("tr", {}, ["Session", "State", "Policy", "Owner", "Tenant", "Age", "Tokens"]
      .map((h, n) => W.el("th", { scope: "col", class: n > 3 && n < 6 ? "hide-narrow" : null, text: h })))),
    body);
  let last = [];
  const render = (sessions) => {
    last = sessions;
    const q = search.value.trim().toLowerCase();
    const rows = sessions.filter((s) =>
      (!state.value || s.state === state.value) &&
      (!owner.value || s.owner.includes(owner.value)) &&
      (!policy.value || s.policy.includes(policy.value)) &&
      (!q || (s.id + " " + s.workDir + " " + s.policy + " " + s.owner).toLowerCase().includes(q)));
    body.replaceChildren(...rows.map((s) => W.el("tr", { "data-session": s.id },
      W.el("td", {}, W.el("a", { href: "#/sessions/" + s.id, text: s.id.slice(0, 12) }),
        W.el("div", { class: "muted", text: s.workDir })),
      W.el("td", {}, W.stateBadge(s.state)),
      W.el("td", { text: s.policy }),
      W.el("td", { text: s.owner }),
      W.el("td", { class: "hide-narrow", text: s.tenant }),
      W.el("td", { class: "hide-narrow", text: W.age(s.createdAt) }),
      W.el("td", { text: String(W.tokens(s.usage)) }))));
    if (!rows.length) body.append(W.el("tr", {}, W.el("td", { colspan: 7, class: "muted", text: "no sessions" })));
  };
  for (const input of [state, owner, policy, search]) input.addEventListener("input", () => render(last));
  W.page("Sessions",
    W.el("div", { class: "filters", role: "search" },
      W.el("label", {}, "State", state), W.el("label", {}, "Owner", owner),
      W.el("label", {}, "Policy", policy), W.el("label", {}, "Search", search)),
    table);
  W.sessionListeners.add(render);
  W.cleanup.push(() => W.sessionListeners.delete(render));
  W.shortcuts["/"] = () => search.focus();
  W.api("GET", "/v1/sessions").then((r) => render(r.sessions)).catch((e) => W.toast(e.message, true));
};
