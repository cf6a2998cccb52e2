// One session: live terminal, prompt with the policy's explanation, approve/reject/answer,
// transcript, workspace diff, recording playback, artifacts, kill.
"use strict";

function decoderFor(term) {
  const decoder = new TextDecoder("utf-8");
  return (data) => term.write(typeof data === "string" ? data : decoder.decode(new Uint8Array(data), { stream: true }));
}

function newTerminal(box, cols, rows) {
  const term = new Terminal({ cols, rows, useStyle: false, screenKeys: false, cursorBlink: false });
  // Read-only by construction: term.js would otherwise take every key typed on the page
  // once focused; typing goes through the input box (operators only).
  term.focus = function () {};
  term.open(box);
  return term;
}

async function openTerminal(sid, box, size) {
  const term = newTerminal(box, size.cols, size.rows);
  const write = decoderFor(term);
  const { url } = await W.api("POST", "/v1/sessions/" + sid + "/terminal/ticket");
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + url);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (ev) => {
    if (typeof ev.data === "string") {
      const reply = JSON.parse(ev.data);
      if (reply.type === "error") W.toast(reply.message, true);
      return;
    }
    write(ev.data);
    box.dataset.frames = String(Number(box.dataset.frames || 0) + 1);
  });
  W.cleanup.push(() => socket.close());
  return socket;
}

// The screen names a tool in its own words ("bash"); the policy speaks Claude Code's
// tool names ("Bash", "WebFetch").
const TOOL_NAMES = { bash: "Bash", edit: "Edit", write: "Write", read: "Read", webfetch: "WebFetch",
  websearch: "WebSearch", notebookedit: "NotebookEdit", multiedit: "MultiEdit" };
function toolName(tool) {
  const key = String(tool || "bash").toLowerCase().replace(/[^a-z]/g, "");
  return TOOL_NAMES[key] || (tool ? tool[0].toUpperCase() + tool.slice(1) : "Bash");
}

function promptPanel(sid, session, panel) {
  const d = session.details || {};
  panel.replaceChildren();
  panel.hidden = !["permission_prompt", "asking"].includes(session.state);
  if (panel.hidden) return;
  const canAnswer = W.hasRole("approver");
  const act = async (what, body) => {
    try {
      await W.api("POST", "/v1/sessions/" + sid + "/" + what, body);
      W.toast(what + ": done");
    } catch (e) { W.toast(e.message, true); }
  };
  if (session.state === "permission_prompt") {
    const target = d.command || d.path || "";
    const why = W.el("p", { id: "policy-why", class: "muted", text: "asking the policy…" });
    panel.append(W.el("h2", { id: "prompt-title", text: "Permission: " + (d.tool || "tool") }),
      W.el("pre", { id: "prompt-target", text: target }),
      d.question ? W.el("p", { text: d.question }) : null, why);
    const input = d.command ? { command: d.command } : { file_path: d.path || "" };
    W.api("POST", "/v1/policies/" + encodeURIComponent(session.policy) + "/explain", { tool: toolName(d.tool), input })
      .then((r) => { why.replaceChildren(W.el("strong", { text: r.decision }), " · rule ",
        W.el("code", { id: "policy-rule", text: r.rule }), " · " + r.reason); })
      .catch((e) => { why.textContent = "no explanation: " + e.message; });
    if (canAnswer) {
      panel.append(W.el("div", { class: "row" },
        W.el("button", { class: "primary", id: "approve", onclick: () => act("approve"), text: "Approve (a)" }),
        W.el("button", { class: "danger", id: "reject", onclick: () => act("reject"), text: "Reject (r)" })));
      W.shortcuts.a = () => act("approve");
      W.shortcuts.r = () => act("reject");
    }
  } else {
    panel.append(W.el("h2", { text: "Question" }), W.el("p", { id: "question", text: d.question || "" }));
    if (canAnswer) {
      const options = d.options || [];
      panel.append(W.el("div", { class: "row" }, options.map((o, n) =>
        W.el("button", { onclick: () => act("answer", { option: n + 1 }), text: (n + 1) + ". " + (o.label || o) }))));
      const text = W.el("input", { "aria-label": "Answer in words" });
      panel.append(W.el("div", { class: "row" }, text,
        W.el("button", { onclick: () => act("answer", { text: text.value }), text: "Answer" })));
    }
  }
}

async function loadTranscript(sid, box) {
  try {
    const r = await W.api("GET", "/v1/sessions/" + sid + "/read");
    const turns = r.turns || r.messages || [];
    box.replaceChildren(...turns.map((t) => W.el("div", { class: "turn turn-" + t.role },
      W.el("strong", { text: t.role + ": " }), t.text || "",
      (t.toolUses || []).map((u) => W.el("code", { text: " [" + (u.name || "tool") + "]" })))));
    if (!turns.length) box.textContent = "no turns yet";
  } catch (e) { box.textContent = e.message; }
}

async function playRecording(sid, box, size) {
  box.replaceChildren();
  const text = await W.api("GET", "/v1/sessions/" + sid + "/recording");
  const lines = String(text).split("\n").filter(Boolean);
  const header = JSON.parse(lines[0]);
  const term = newTerminal(box, header.width || size.cols, header.height || size.rows);
  const events = lines.slice(1).map((l) => JSON.parse(l)).filter((e) => e[1] === "o");
  const started = performance.now();
  const step = () => {
    const now = (performance.now() - started) / 1000 * 4; // 4x speed
    while (events.length && events[0][0] <= now) term.write(events.shift()[2]);
    if (events.length) W.playTimer = setTimeout(step, 30);
  };
  step();
  W.cleanup.push(() => clearTimeout(W.playTimer));
}

W.pages.sessions_one = async function (sid) {
  const header = W.el("div", { class: "row", id: "session-head" });
  const panel = W.el("section", { class: "panel prompt", id: "prompt", "aria-label": "Open prompt", hidden: true });
  const termBox = W.el("div", { class: "term", id: "terminal", role: "region", "aria-label": "Live terminal" });
  const transcript = W.el("div", { id: "transcript" });
  const diff = W.el("pre", { id: "diff", hidden: true });
  const recording = W.el("div", { class: "term", id: "recording", hidden: true });
  const artifacts = W.el("ul", { id: "artifacts" });
  const controls = W.el("div", { class: "row" });
  W.page("Session " + sid.slice(0, 12), header, panel, W.el("div", { class: "grid" },
    W.el("section", { "aria-label": "Terminal" }, W.el("h2", { text: "Terminal" }), termBox, controls),
    W.el("section", { "aria-label": "Transcript" }, W.el("h2", { text: "Transcript" }), transcript)),
    W.el("section", { "aria-label": "Workspace and recording" },
      W.el("div", { class: "row" },
        W.el("button", { id: "show-diff", onclick: async () => {
          diff.hidden = false;
          try { diff.textContent = (await W.api("GET", "/v1/sessions/" + sid + "/patch")) || "(no changes)"; }
          catch (e) { diff.textContent = e.message; }
        }, text: "Workspace diff" }),
        W.el("button", { id: "play", onclick: () => { recording.hidden = false; playRecording(sid, recording, size).catch((e) => W.toast(e.message, true)); }, text: "Play recording" })),
      diff, recording, W.el("h2", { text: "Artifacts" }), artifacts));
  let session;
  try { session = await W.api("GET", "/v1/sessions/" + sid); }
  catch (e) { W.toast(e.message, true); return; }
  const pane = await W.api("GET", "/v1/sessions/" + sid + "/pane").catch(() => ({ text: "" }));
  const paneLines = pane.text.split("\n");
  const size = { cols: Math.max(80, ...paneLines.map((l) => l.length)), rows: Math.max(24, paneLines.length) };
  const show = (s) => {
    session = s;
    header.replaceChildren(W.stateBadge(s.state), W.el("span", { text: "policy " + s.policy }),
      W.el("span", { class: "muted", text: s.owner + " · " + s.tenant + " · " + W.tokens(s.usage) + " tokens" }));
    promptPanel(sid, s, panel);
  };
  show(session);
  if (W.hasRole("operator")) {
    const text = W.el("input", { id: "send-text", "aria-label": "Prompt to send", placeholder: "type a prompt" });
    controls.append(text, W.el("button", { id: "send", onclick: () => {
      const typed = text.value;
      text.value = "";
      socket.then((ws) => ws.send(JSON.stringify({ type: "input", text: typed })));
    }, text: "Send" }), W.el("button", { class: "danger", id: "kill", onclick: async () => {
      if (!confirm("Kill this session? Its container is removed.")) return;
      try { show(await W.api("DELETE", "/v1/sessions/" + sid)); } catch (e) { W.toast(e.message, true); }
    }, text: "Kill" }));
  }
  const socket = openTerminal(sid, termBox, size).catch((e) => { W.toast(e.message, true); });
  loadTranscript(sid, transcript);
  const loadArtifacts = () => W.api("GET", "/v1/sessions/" + sid + "/artifacts").then((r) => {
    artifacts.replaceChildren(...(r.artifacts || []).map((a) => W.el("li", {},
      W.el("a", { href: "/v1/sessions/" + sid + "/artifacts/" + encodeURIComponent(a.name), download: a.name, text: a.name }),
      W.el("span", { class: "muted", text: " " + a.size + " bytes" }))));
    if (!(r.artifacts || []).length) artifacts.replaceChildren(W.el("li", { class: "muted", text: "collected when the session ends" }));
  }).catch(() => { artifacts.replaceChildren(W.el("li", { class: "muted", text: "collected when the session ends" })); });
  loadArtifacts();
  W.events("/v1/sessions/" + sid + "/events", ["session.state", "message", "usage", "session.ended"], (type, ev) => {
    if (type === "session.state") show({ ...session, state: ev.data.state, details: ev.data.details || {} });
    if (type === "message") loadTranscript(sid, transcript);
    if (type === "usage" || type === "session.ended") W.api("GET", "/v1/sessions/" + sid).then(show).catch(() => {});
    if (type === "session.ended") setTimeout(loadArtifacts, 500);
  });
};

const listPage = W.pages.sessions;
W.pages.sessions = function (rest, params) {
  if (rest && rest.length) return W.pages.sessions_one(rest[0]);
  return listPage(rest, params);
};
