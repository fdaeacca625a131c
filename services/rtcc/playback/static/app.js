// The operator console: sign-in, map, live grid, camera page with a timeline.
"use strict";

const state = { token: sessionStorage.getItem("rtcc-token") || "", cameras: [], players: [] };
window.rtcc = state; // tests and benchmarks read players' peer connections here
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + state.token }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

async function stopPlayers() {
  const players = state.players.splice(0);
  await Promise.all(players.map((p) => p.stop().catch(() => {})));
}

function show(view) {
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
}

async function signIn(token) {
  state.token = token.trim();
  try {
    state.cameras = (await api("/api/cameras")).cameras;
  } catch (error) {
    state.token = "";
    $("signin-error").textContent = "Sign-in failed: " + error.message;
    return;
  }
  sessionStorage.setItem("rtcc-token", state.token);
  $("signout").hidden = false;
  $("who").textContent = state.cameras.length + (state.cameras.length === 1 ? " camera" : " cameras");
  drawMap();
  if (!location.hash || location.hash === "#/signin") location.hash = "#/map";
  else route();
}

function drawMap() {
  const svg = $("map-svg");
  svg.replaceChildren();
  for (let x = 0; x <= 800; x += 50) svg.append(svgEl("line", { x1: x, y1: 0, x2: x, y2: 500, class: "grid" }));
  for (let y = 0; y <= 500; y += 50) svg.append(svgEl("line", { x1: 0, y1: y, x2: 800, y2: y, class: "grid" }));
  const lats = state.cameras.map((c) => c.lat), lngs = state.cameras.map((c) => c.lng);
  const [minLat, maxLat, minLng, maxLng] = [Math.min(...lats), Math.max(...lats), Math.min(...lngs), Math.max(...lngs)];
  const sx = (lng) => 50 + 700 * ((lng - minLng) / ((maxLng - minLng) || 1));
  const sy = (lat) => 450 - 400 * ((lat - minLat) / ((maxLat - minLat) || 1));
  const list = $("camera-list");
  list.replaceChildren();
  for (const cam of state.cameras) {
    const x = sx(cam.lng), y = sy(cam.lat);
    if (cam.angle > 0) {
      const a0 = ((cam.heading - cam.angle / 2 - 90) * Math.PI) / 180, a1 = ((cam.heading + cam.angle / 2 - 90) * Math.PI) / 180;
      const d = `M${x},${y} L${x + 40 * Math.cos(a0)},${y + 40 * Math.sin(a0)} A40,40 0 0,1 ${x + 40 * Math.cos(a1)},${y + 40 * Math.sin(a1)} Z`;
      svg.append(svgEl("path", { d, class: "fov" }));
    }
    const dot = svgEl("circle", { cx: x, cy: y, r: 7, class: "cam" + (cam.live ? "" : " denied"), "data-camera": cam.id });
    dot.addEventListener("click", () => { location.hash = "#/camera/" + cam.id; });
    svg.append(dot);
    const label = svgEl("text", { x: x + 9, y: y - 9 });
    label.textContent = cam.name;
    svg.append(label);
    const item = document.createElement("li");
    item.innerHTML = `<a href="#/camera/${cam.id}"></a> <button data-live="${cam.id}">Live tile</button>`;
    item.querySelector("a").textContent = cam.name + " (" + cam.id + ")";
    item.querySelector("button").addEventListener("click", () => { location.hash = "#/live/" + cam.id; });
    list.append(item);
  }
}

async function openTile(cameraId) {
  const tile = document.createElement("div");
  tile.className = "tile";
  tile.dataset.camera = cameraId;
  tile.innerHTML = '<video muted autoplay playsinline></video><span class="label"></span><span class="error" role="alert"></span>';
  tile.querySelector(".label").textContent = cameraId;
  $("tiles").append(tile);
  try {
    const player = await whepPlay("/whep/cameras/" + encodeURIComponent(cameraId), state.token, tile.querySelector("video"));
    player.cameraId = cameraId;
    state.players.push(player);
  } catch (error) {
    tile.dataset.error = String(error.status || "error");
    tile.querySelector(".error").textContent = "Refused: " + error.message;
  }
}

async function showLive(only) {
  await stopPlayers();
  $("tiles").replaceChildren();
  const ids = only ? [only] : state.cameras.filter((c) => c.live).slice(0, 9).map((c) => c.id);
  await Promise.all(ids.map(openTile));
}

const cam = { id: "", player: null, window: null, poll: 0 };

async function play(startIso) {
  await stopPlayers();
  clearInterval(cam.poll);
  const speed = $("speed").value;
  const query = startIso ? `?start=${encodeURIComponent(startIso)}&speed=${speed}` : "";
  $("camera-status").textContent = startIso ? "Playing recording…" : "Playing live…";
  try {
    cam.player = await whepPlay("/whep/cameras/" + encodeURIComponent(cam.id) + query, state.token, $("camera-video"));
    state.players.push(cam.player);
    if (startIso) cam.poll = setInterval(pollSession, 1000);
  } catch (error) {
    $("camera-status").textContent = "Refused: " + error.message;
    $("camera-status").dataset.error = String(error.status || "error");
  }
}

async function pollSession() {
  if (!cam.player) return;
  try {
    const s = await api("/api/sessions/" + cam.player.sessionId);
    $("position").textContent = (s.position || "") + " " + s.state + (s.gaps.length ? ` (${s.gaps.length} gaps skipped)` : "");
    drawCursor(s.position);
  } catch (error) { clearInterval(cam.poll); }
}

async function control(body) {
  if (cam.player) await api("/api/sessions/" + cam.player.sessionId + "/control", { method: "POST", body: JSON.stringify(body) });
}

function drawCursor(iso) {
  const svg = $("timeline");
  svg.querySelector(".cursor")?.remove();
  if (!iso || !cam.window) return;
  const x = (1000 * (Date.parse(iso) - cam.window.start)) / (cam.window.end - cam.window.start);
  svg.append(svgEl("line", { x1: x, y1: 0, x2: x, y2: 40, class: "cursor" }));
}

async function showCamera(id) {
  cam.id = id;
  const info = state.cameras.find((c) => c.id === id);
  $("camera-title").textContent = info ? info.name : id;
  const svg = $("timeline");
  svg.replaceChildren();
  try {
    const since = new Date(Date.now() - 15 * 60 * 1000).toISOString(); // the last 15 minutes
    const t = await api("/api/cameras/" + encodeURIComponent(id) + "/recordings?start=" + encodeURIComponent(since));
    cam.window = { start: Date.parse(t.start), end: Date.parse(t.end) };
    for (const span of t.spans) {
      const x0 = (1000 * (Date.parse(span.start) - cam.window.start)) / (cam.window.end - cam.window.start);
      const x1 = (1000 * (Date.parse(span.end) - cam.window.start)) / (cam.window.end - cam.window.start);
      svg.append(svgEl("rect", { x: x0, y: 5, width: Math.max(1, x1 - x0), height: 30, class: "span", "data-start": span.start }));
    }
  } catch (error) {
    cam.window = null;
    $("camera-status").textContent = "No recordings: " + error.message;
  }
}

function route() {
  if (!state.token) return show("signin");
  const [, view, arg] = location.hash.split("/");
  if (view === "live") { show("live"); showLive(arg); }
  else if (view === "camera" && arg) { show("camera"); showCamera(decodeURIComponent(arg)); }
  else if (view === "alerts" || view === "search") { stopPlayers(); show(view); }
  else { stopPlayers(); show("map"); }
}

$("signin-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value); });
$("signout").addEventListener("click", () => { sessionStorage.removeItem("rtcc-token"); stopPlayers(); location.hash = ""; location.reload(); });
$("play-live").addEventListener("click", () => play(null));
$("pause").addEventListener("click", () => control({ action: "pause" }));
$("resume").addEventListener("click", () => control({ action: "resume" }));
$("speed").addEventListener("change", () => control({ action: "rate", rate: Number($("speed").value) }));
$("timeline").addEventListener("click", (event) => {
  if (!cam.window) return;
  const box = $("timeline").getBoundingClientRect();
  const at = cam.window.start + ((event.clientX - box.left) / box.width) * (cam.window.end - cam.window.start);
  play(new Date(at).toISOString());
});
window.addEventListener("hashchange", route);
window.addEventListener("beforeunload", () => { stopPlayers(); });
if (state.token) signIn(state.token); else show("signin");
