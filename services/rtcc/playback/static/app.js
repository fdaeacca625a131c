// The operator console's core: sign-in, the camera list, routing, progress, shortcuts.
// Views (map.js, wall.js, camera.js, search.js, and modules such as alerts.js) register
// themselves in rtcc.views[name] = { enter(arg), leave() }.
"use strict";

const state = {
  token: sessionStorage.getItem("rtcc-token") || "",
  cameras: [],
  byId: new Map(),
  players: [], // WHEP players of the current view; tests and benchmarks read their pcs
  views: {},
  current: "",
  config: { basemap: { url: "", attribution: "", max_zoom: 19 }, search: false, modules: [] },
  area: null, // { lat, lng, radius } drawn on the map
};
window.rtcc = state;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// A DOM element: el("button", { class: "x", onclick: f }, "text", child...).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// Progress: anything slower than 300 ms shows the bar until it is done.
let pending = 0;
let progressTimer = 0;
async function busy(promise) {
  pending += 1;
  if (pending === 1) progressTimer = setTimeout(() => { $("progress").hidden = false; }, 300);
  try {
    return await promise;
  } finally {
    pending -= 1;
    if (pending === 0) { clearTimeout(progressTimer); $("progress").hidden = true; }
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + state.token }, options.headers || {});
  const response = await busy(fetch(path, Object.assign({}, options, { headers })));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

async function stopPlayers() {
  const players = state.players.splice(0);
  await Promise.all(players.map((p) => p.stop().catch(() => {})));
}

function cameraName(id) {
  const cam = state.byId.get(id);
  return cam ? cam.name || id : id;
}

// The camera's state in words and as a CSS class: live, degraded, offline, no access.
function cameraState(cam) {
  if (!cam || !cam.live) return { key: "denied", text: "no live access" };
  if (cam.status === "CAMERA_STATUS_ONLINE") return { key: "online", text: "online" };
  if (cam.status === "CAMERA_STATUS_DEGRADED") return { key: "degraded", text: "degraded" };
  if (cam.status === "CAMERA_STATUS_OFFLINE") return { key: "offline", text: "offline" };
  return { key: "unknown", text: "status unknown" };
}

function setCameras(cameras) {
  state.cameras = cameras;
  state.byId = new Map(cameras.map((c) => [c.id, c]));
  $("who").textContent = cameras.length + (cameras.length === 1 ? " camera" : " cameras");
  document.dispatchEvent(new CustomEvent("rtcc:cameras"));
}

let refreshTimer = 0;
async function refreshCameras() {
  try { setCameras((await api("/api/cameras")).cameras); } catch (error) { /* keep the last list */ }
}

async function signIn(token) {
  state.token = token.trim();
  try {
    const [cameras, config] = await Promise.all([api("/api/cameras"), api("/api/console")]);
    state.config = config;
    setCameras(cameras.cameras);
  } catch (error) {
    state.token = "";
    $("signin-error").textContent = "Sign-in failed: " + error.message;
    return;
  }
  sessionStorage.setItem("rtcc-token", state.token);
  $("signout").hidden = false;
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refreshCameras, 15000); // live status on the map and wall
  document.dispatchEvent(new CustomEvent("rtcc:signedin"));
  if (!location.hash || location.hash === "#/signin") location.hash = "#/map";
  else route();
}
// The sign-in entry point, also called by oidc.js with a provider's access token.
window.rtccSignIn = signIn;

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (!state.token) return show("signin");
  const [, name, ...rest] = location.hash.split("/");
  let view = name === "live" ? "wall" : name; // #/live/<id>: the old single-tile link
  if (!state.views[view]) view = "map";
  const previous = state.views[state.current];
  if (previous && previous.leave) await previous.leave(view);
  state.current = view;
  show(view);
  const arg = rest.map(decodeURIComponent).join("/");
  try {
    await state.views[view].enter(arg);
  } catch (error) {
    console.warn("view", view, error); // a view's failure is shown by the view itself
  }
}

// Keyboard: single keys act on the current view; "g" then a letter goes to a view.
let goPrefix = false;
function onKey(event) {
  const target = event.target;
  const typing = target instanceof HTMLElement && (target.isContentEditable
    || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  if (typing || event.ctrlKey || event.metaKey || event.altKey || !state.token) return;
  if (goPrefix) {
    goPrefix = false;
    const views = { m: "map", w: "wall", s: "search", a: "alerts", c: "cases" };
    if (views[event.key]) { location.hash = "#/" + views[event.key]; event.preventDefault(); }
    return;
  }
  if (event.key === "g") { goPrefix = true; return; }
  if (event.key === "?") { $("help").showModal(); event.preventDefault(); return; }
  const view = state.views[state.current];
  if (view && view.key && view.key(event)) { event.preventDefault(); return; }
  const alerts = state.views.alerts;
  if ((event.key === "n" || event.key === "k") && alerts && alerts.key && alerts.key(event)) event.preventDefault();
}

function playAt(cameraId, iso) {
  location.hash = "#/camera/" + encodeURIComponent(cameraId) + (iso ? "/" + encodeURIComponent(iso) : "");
}

Object.assign(state, { api, el, svgEl, busy, stopPlayers, cameraName, cameraState, playAt, route });

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
$("signout").addEventListener("click", () => {
  sessionStorage.removeItem("rtcc-token");
  stopPlayers();
  location.hash = "";
  location.reload();
});
$("help-button").addEventListener("click", () => $("help").showModal());
window.addEventListener("hashchange", route);
window.addEventListener("keydown", onKey);
window.addEventListener("beforeunload", () => { stopPlayers(); });
// Start once every view script has registered itself.
window.addEventListener("DOMContentLoaded", () => {
  if (state.token) signIn(state.token);
  else show("signin");
});
