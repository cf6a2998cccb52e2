// Warden dashboard: the shared pieces (API calls with the CSRF token, DOM helpers, roles).
// Every value from the server is put on the page with textContent, never as HTML.
"use strict";

const W = {
  me: null,
  pages: {},
  cleanup: [],
  shortcuts: {},
};

W.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

W.hasRole = function (...roles) {
  const mine = (W.me && W.me.roles) || [];
  return mine.includes("admin") || mine.includes("global_admin") || roles.some((r) => mine.includes(r));
};

W.api = async function (method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && W.me && W.me.csrf) headers["X-CSRF-Token"] = W.me.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || response.statusText;
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return data;
};

W.toast = function (message, isError) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = "toast" + (isError ? " bad" : "");
  box.hidden = false;
  clearTimeout(W.toastTimer);
  W.toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
};

W.stateBadge = function (state) {
  return W.el("span", { class: "state state-" + state, "data-state": state, text: state.replace("_", " ") });
};

W.age = function (iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return Math.round(seconds) + "s";
  if (seconds < 3600) return Math.round(seconds / 60) + "m";
  if (seconds < 86400) return Math.round(seconds / 3600) + "h";
  return Math.round(seconds / 86400) + "d";
};

W.tokens = function (usage) {
  if (!usage) return 0;
  return (usage.inputTokens || 0) + (usage.outputTokens || 0);
};

// An EventSource that is closed when the page changes.
W.events = function (url, types, handler) {
  const source = new EventSource(url, { withCredentials: true });
  for (const type of types) source.addEventListener(type, (ev) => handler(type, JSON.parse(ev.data)));
  W.cleanup.push(() => source.close());
  return source;
};

W.page = function (title, ...children) {
  const main = document.getElementById("main");
  main.replaceChildren(W.el("h1", { text: title }), ...children);
  document.title = title + " · Warden";
  return main;
};
