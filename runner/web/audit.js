// The audit log: events with filters, the latest signed checkpoint, chain verification,
// inclusion proofs and export download.
"use strict";

W.pages.audit = function () {
  const f = {
    session: W.el("input", { id: "a-session", placeholder: "session id" }),
    type: W.el("input", { id: "a-type", placeholder: "e.g. permission.decided" }),
    actor: W.el("input", { id: "a-actor", placeholder: "actor" }),
    since: W.el("input", { id: "a-since", type: "datetime-local" }),
    until: W.el("input", { id: "a-until", type: "datetime-local" }),
  };
  const body = W.el("tbody", { id: "audit-events" });
  const checkpoint = W.el("div", { id: "checkpoint", class: "panel" }, "loading the latest checkpoint…");
  const verdict = W.el("p", { id: "verdict", role: "status" });
  const proof = W.el("pre", { id: "proof", hidden: true });
  const exportLink = W.el("a", { id: "export-download", hidden: true, text: "Download the export" });
  const load = async () => {
    const q = new URLSearchParams();
    for (const key of ["session", "type", "actor"]) if (f[key].value) q.set(key, f[key].value);
    if (f.since.value) q.set("since", new Date(f.since.value).toISOString());
    if (f.until.value) q.set("until", new Date(f.until.value).toISOString());
    q.set("limit", "200");
    try {
      const page = await W.api("GET", "/v1/audit?" + q);
      body.replaceChildren(...page.events.map((e) => W.el("tr", { "data-seq": e.seq },
        W.el("td", {}, W.el("button", { class: "link", "aria-label": "inclusion proof of event " + e.seq,
          onclick: async () => {
            proof.hidden = false;
            try { proof.textContent = JSON.stringify(await W.api("GET", "/v1/audit/" + e.seq + "/proof"), null, 2); }
            catch (err) { proof.textContent = err.message; }
          }, text: String(e.seq) })),
        W.el("td", { class: "hide-narrow", text: e.ts }), W.el("td", { text: e.type }),
        W.el("td", { text: e.actor }), W.el("td", { class: "hide-narrow", text: (e.session || "").slice(0, 12) }))));
    } catch (err) { W.toast(err.message, true); }
  };
  const verify = async () => {
    verdict.textContent = "exporting and verifying…";
    verdict.className = "";
    try {
      const exp = await W.api("POST", "/v1/audit/exports", {});
      const v = await W.api("GET", "/v1/audit/exports/" + exp.id + "/verification");
      verdict.textContent = (v.ok ? "Chain verified: " : "Verification FAILED: ") + v.summary;
      verdict.className = v.ok ? "ok" : "bad";
      verdict.dataset.ok = String(v.ok);
      if (v.firstBadSeq !== null) verdict.dataset.firstBad = String(v.firstBadSeq);
      exportLink.href = "/v1/audit/exports/" + exp.id + "/archive";
      exportLink.hidden = false;
    } catch (err) { verdict.textContent = err.message; verdict.className = "bad"; }
  };
  W.page("Audit",
    W.el("section", { "aria-label": "Chain" }, checkpoint,
      W.el("div", { class: "row" }, W.el("button", { id: "verify", class: "primary", onclick: verify, text: "Export and verify" }), exportLink),
      verdict),
    W.el("form", { class: "filters", role: "search", onsubmit: (ev) => { ev.preventDefault(); load(); } },
      Object.entries(f).map(([k, input]) => W.el("label", {}, k, input)),
      W.el("button", { type: "submit", text: "Filter" })),
    W.el("table", { "aria-label": "Audit events" },
      W.el("thead", {}, W.el("tr", {}, ["Seq", "Time", "Type", "Actor", "Session"].map((h, n) =>
        W.el("th", { scope: "col", class: n === 1 || n === 4 ? "hide-narrow" : null, text: h })))), body),
    proof);
  W.api("GET", "/v1/audit/checkpoints").then((r) => {
    const latest = r.checkpoints[r.checkpoints.length - 1];
    checkpoint.replaceChildren(latest
      ? W.el("div", {}, W.el("strong", { text: "Latest signed checkpoint: " }),
        "size " + latest.size + " · key " + (latest.keyId || latest.key_id || "") + " · " + (latest.timestamp || latest.ts || ""),
        W.el("div", { class: "muted", text: "root " + (latest.root || latest.merkle_root || "") }))
      : "no checkpoint yet");
  }).catch((e) => { checkpoint.textContent = e.message; });
  load();
  verify();
};
