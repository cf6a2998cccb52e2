// Policies (list, text, explain), pipelines, and API tokens (admins).
"use strict";

W.pages.policies = async function (rest) {
  if (rest && rest.length) return policyPage(decodeURIComponent(rest[0]));
  const list = W.el("ul", { id: "policies" });
  W.page("Policies", list);
  try {
    const { policies } = await W.api("GET", "/v1/policies");
    list.replaceChildren(...policies.map((p) => W.el("li", {},
      W.el("a", { href: "#/policies/" + encodeURIComponent(p.name), text: p.name }),
      " ", W.el("span", { class: "muted", text: p.description || "" }))));
  } catch (e) { W.toast(e.message, true); }
};

async function policyPage(name) {
  const text = W.el("pre", { id: "policy-text" });
  const tool = W.el("input", { id: "x-tool", value: "Bash", "aria-label": "Tool" });
  const arg = W.el("input", { id: "x-input", placeholder: "npm test", "aria-label": "Command or path" });
  const out = W.el("div", { id: "explain", role: "status" });
  const form = W.el("form", { class: "filters", "aria-label": "What would this policy decide", onsubmit: async (ev) => {
    ev.preventDefault();
    const input = tool.value === "Bash" ? { command: arg.value } : { file_path: arg.value };
    try {
      const r = await W.api("POST", "/v1/policies/" + encodeURIComponent(name) + "/explain", { tool: tool.value, input });
      out.replaceChildren(W.el("p", {}, W.el("strong", { id: "x-decision", text: r.decision }), " · rule ",
        W.el("code", { text: r.rule }), " · " + r.reason), W.el("pre", { text: JSON.stringify(r.trace, null, 2) }));
    } catch (e) { out.textContent = e.message; }
  } }, W.el("label", {}, "Tool", tool), W.el("label", {}, "Command or path", arg),
    W.el("button", { type: "submit", class: "primary", text: "Explain" }));
  W.page("Policy " + name, W.el("h2", { text: "What would it decide?" }), form, out, W.el("h2", { text: "Text" }), text);
  try { text.textContent = JSON.stringify(await W.api("GET", "/v1/policies/" + encodeURIComponent(name)), null, 2); }
  catch (e) { text.textContent = e.message; }
}

W.pages.pipelines = async function () {
  const body = W.el("tbody", { id: "pipelines" });
  W.page("Pipelines", W.el("table", { "aria-label": "Pipelines" },
    W.el("thead", {}, W.el("tr", {}, ["Pipeline", "State", "Stages", "Owner", "Age"].map((h) => W.el("th", { scope: "col", text: h })))), body));
  try {
    const { pipelines } = await W.api("GET", "/v1/pipelines");
    body.replaceChildren(...pipelines.map((p) => W.el("tr", {},
      W.el("td", { text: p.name + " (" + p.id.slice(0, 8) + ")" }), W.el("td", {}, W.stateBadge(p.state)),
      W.el("td", { text: p.stages.map((s) => s.name + ": " + s.state).join(", ") }),
      W.el("td", { text: p.owner }), W.el("td", { text: W.age(p.createdAt) }))));
    if (!pipelines.length) body.append(W.el("tr", {}, W.el("td", { colspan: 5, class: "muted", text: "no pipelines" })));
  } catch (e) { W.toast(e.message, true); }
};

W.pages.tokens = async function () {
  const body = W.el("tbody", { id: "tokens" });
  const name = W.el("input", { id: "t-name", required: true, "aria-label": "Token name" });
  const roles = W.el("input", { id: "t-roles", value: "viewer", "aria-label": "Roles (comma separated)" });
  const secret = W.el("pre", { id: "t-secret", hidden: true });
  const load = async () => {
    try {
      const { tokens } = await W.api("GET", "/v1/tokens");
      body.replaceChildren(...tokens.map((t) => W.el("tr", {},
        W.el("td", { text: t.name }), W.el("td", { text: t.roles.join(", ") }), W.el("td", { text: t.expiresAt }),
        W.el("td", {}, t.revokedAt ? "revoked" : W.el("button", { class: "danger", onclick: async () => {
          try { await W.api("DELETE", "/v1/tokens/" + t.id); load(); } catch (e) { W.toast(e.message, true); }
        }, text: "Revoke" })))));
    } catch (e) { W.toast(e.message, true); }
  };
  W.page("API tokens",
    W.el("form", { class: "filters", "aria-label": "New token", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const made = await W.api("POST", "/v1/tokens", { name: name.value, roles: roles.value.split(",").map((r) => r.trim()).filter(Boolean) });
        secret.hidden = false;
        secret.textContent = "Shown once: " + made.secret;
        load();
      } catch (e) { W.toast(e.message, true); }
    } }, W.el("label", {}, "Name", name), W.el("label", {}, "Roles", roles), W.el("button", { type: "submit", class: "primary", text: "Create" })),
    secret,
    W.el("table", { "aria-label": "API tokens" }, W.el("thead", {}, W.el("tr", {}, ["Name", "Roles", "Expires", ""].map((h) => W.el("th", { scope: "col", text: h })))), body));
  load();
};
