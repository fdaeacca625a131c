// The video wall: 1, 4, 9 or 16 tiles; camera names and status; drag a camera onto a
// tile or tiles onto each other; a click makes a tile full screen. Small tiles (9 and
// 16) ask for the camera's sub stream, large ones (1, 4, full screen) for the main one.
// The whole wall is one peer connection (whepWall: one offer, one handshake, a video
// section per tile); one WHEP session per tile is the fallback when that fails.
"use strict";

(function () {
  const KEY = "rtcc-wall";
  const saved = JSON.parse(localStorage.getItem(KEY) || "null") || {};
  const w = {
    layout: [1, 4, 9, 16].includes(saved.layout) ? saved.layout : 4,
    slots: Array.isArray(saved.slots) ? saved.slots : [],
    tiles: [], // { cameraId, element, player, stream, openedAt, firstFrameMs, wall }
    active: false,
    generation: 0,
    transport: "wall", // "wall": one peer connection; "tiles": one WHEP session per tile
    fallback: null, // why the last wall fell back to one session per tile
  };
  window.rtccWall = w;

  function save() {
    localStorage.setItem(KEY, JSON.stringify({ layout: w.layout, slots: w.slots.slice(0, 16) }));
  }

  function streamFor(layout) {
    return layout >= 9 ? "sub" : "main";
  }

  // Fill empty slots with the cameras the user may watch live, in list order.
  function defaults() {
    const live = window.rtcc.cameras.filter((c) => c.live).map((c) => c.id);
    const known = new Set(window.rtcc.cameras.map((c) => c.id));
    w.slots = w.slots.map((id) => (id && known.has(id) ? id : null));
    for (const id of live) {
      if (w.slots.filter(Boolean).length >= w.layout) break;
      if (!w.slots.includes(id)) {
        const free = w.slots.indexOf(null);
        if (free >= 0 && free < w.layout) w.slots[free] = id; else w.slots.push(id);
      }
    }
  }

  function label(tile, cameraId) {
    const cam = window.rtcc.byId.get(cameraId);
    const s = window.rtcc.cameraState(cam);
    tile.querySelector(".name").textContent = window.rtcc.cameraName(cameraId);
    const dot = tile.querySelector(".dot");
    dot.className = "dot " + s.key;
    dot.title = s.text;
    dot.setAttribute("aria-label", s.text);
  }

  function tileElement(index, cameraId) {
    const tile = el("div", {
      class: "tile", tabindex: "0", draggable: cameraId ? "true" : "false",
      role: "button", dataset: { slot: String(index) },
      "aria-label": cameraId ? window.rtcc.cameraName(cameraId) + ", press Enter for full screen" : "empty tile",
    });
    if (cameraId) tile.dataset.camera = cameraId;
    tile.append(
      el("video", { muted: true, autoplay: true, playsinline: true }),
      el("div", { class: "label" }, el("span", { class: "dot" }), el("span", { class: "name" })),
      el("div", { class: "spinner", "aria-hidden": "true" }),
      el("span", { class: "error", role: "alert" }),
    );
    tile.querySelector("video").muted = true;
    if (cameraId) label(tile, cameraId);
    else tile.querySelector(".name").textContent = "drop a camera here";
    tile.addEventListener("click", () => fullScreen(tile));
    tile.addEventListener("keydown", (e) => { if (e.key === "Enter") fullScreen(tile); });
    tile.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/rtcc-slot", String(index)); });
    tile.addEventListener("dragover", (e) => { e.preventDefault(); tile.classList.add("drop"); });
    tile.addEventListener("dragleave", () => tile.classList.remove("drop"));
    tile.addEventListener("drop", (e) => {
      e.preventDefault();
      tile.classList.remove("drop");
      const from = e.dataTransfer.getData("text/rtcc-slot");
      const camera = e.dataTransfer.getData("text/rtcc-camera");
      if (from !== "") swap(Number(from), index);
      else if (camera) put(index, camera);
    });
    return tile;
  }

  function live(entry) {
    return w.active && entry.generation === w.generation;
  }

  async function connect(entry, video, stream) {
    const url = "/whep/cameras/" + encodeURIComponent(entry.cameraId) + (stream === "sub" ? "?stream=sub" : "");
    const player = await whepPlay(url, window.rtcc.token, video);
    player.cameraId = entry.cameraId;
    player.stream = stream;
    if (!live(entry)) { await player.stop(); return null; }
    window.rtcc.players.push(player);
    return player;
  }

  async function drop(player) {
    const at = window.rtcc.players.indexOf(player);
    if (at >= 0) window.rtcc.players.splice(at, 1);
    await player.stop().catch(() => {});
  }

  function watchFirstFrame(entry, video) {
    entry.shown = new Promise((resolve) => {
      video.addEventListener("loadeddata", () => {
        entry.firstFrameMs = performance.now() - entry.openedAt;
        entry.element.classList.add("playing");
        resolve();
      }, { once: true });
      setTimeout(resolve, 10000); // a tile that never plays must not hold the others back
    });
  }

  function refuse(entry, status, message) {
    entry.element.dataset.error = String(status || "error");
    entry.element.classList.add("failed");
    entry.element.querySelector(".error").textContent = "Refused: " + message;
    entry.player = null;
  }

  // The main stream first: ingest records it, so it is connected and its last GOP is
  // cached, and a picture comes at once. A small tile then moves to the sub stream
  // (which ingest may have to connect first) once the sub stream shows a frame.
  async function openTile(entry) {
    const video = entry.element.querySelector("video");
    entry.openedAt = performance.now();
    entry.stream = "main";
    watchFirstFrame(entry, video);
    try {
      entry.player = await connect(entry, video, "main");
    } catch (error) {
      refuse(entry, error.status, error.message);
    }
  }

  // Every tile on one peer connection. The server starts each tile where a picture
  // comes at once (the sub stream if it is connected, else the main one) and moves it
  // to the sub stream itself, at a keyframe; a refused tile says why, the others play.
  async function openWall(entries, stream, previous) {
    const videos = entries.map((e) => e.element.querySelector("video"));
    entries.forEach((entry, i) => { entry.openedAt = w.openedAt; entry.stream = stream; watchFirstFrame(entry, videos[i]); });
    let wall = null;
    let failure = null;
    try {
      if (entries.length) wall = await whepWall(entries.map((e) => e.cameraId), window.rtcc.token, videos, stream);
    } catch (error) {
      failure = error;
    } finally {
      await Promise.all(previous.map((p) => p.stop().catch(() => {}))); // make before break
    }
    if (!entries.length) return;
    if (!live(entries[0])) { if (wall) await wall.stop(); return; }
    if (!wall) { // the wall endpoint failed: one WHEP session per tile
      w.fallback = String((failure && (failure.status || failure.message)) || "error");
      await openAll(entries, stream);
      return;
    }
    w.fallback = null;
    entries.forEach((entry, i) => {
      const tile = wall.tiles[i];
      entry.wall = wall;
      if (tile.state !== "playing") { refuse(entry, tile.status, tile.error); return; }
      entry.player = { pc: wall.pc, mid: tile.mid, cameraId: entry.cameraId, sessionId: wall.sessionId,
        stream, stop: wall.stop, timing: wall.timing };
      window.rtcc.players.push(entry.player);
    });
  }

  // Open every tile on the main stream; once all show a picture, move small tiles to
  // the sub stream (their offers would otherwise queue in front of other tiles' first
  // picture: a browser sends at most 6 requests at once to one server).
  async function openAll(entries, stream) {
    await Promise.all(entries.map((t) => openTile(t, stream)));
    if (stream !== "sub") return;
    await Promise.all(entries.map((t) => t.shown));
    await Promise.all(entries.filter((t) => t.player && live(t)).map((t) => toSub(t)));
  }

  async function toSub(entry) {
    const video = el("video", { muted: true, autoplay: true, playsinline: true, class: "incoming" });
    video.muted = true;
    entry.element.append(video);
    let player = null;
    try {
      player = await connect(entry, video, "sub");
      if (!player) { video.remove(); return; }
      await new Promise((resolve, reject) => {
        video.addEventListener("loadeddata", resolve, { once: true });
        setTimeout(() => reject(new Error("no sub-stream frame")), 15000);
      });
    } catch (error) { // no sub stream (or not now): stay on the main stream
      if (player) await drop(player);
      video.remove();
      return;
    }
    if (!live(entry)) { await drop(player); video.remove(); return; }
    const old = entry.player;
    entry.element.querySelector("video:not(.incoming)").remove();
    video.classList.remove("incoming");
    entry.player = player;
    entry.stream = "sub";
    if (old) await drop(old);
  }

  async function render() {
    w.generation += 1;
    const generation = w.generation;
    // A new wall is opened before the old one is closed, so the cameras' relays (and
    // their cached GOPs) stay subscribed in between; per-tile sessions close first.
    // One tile (the single-camera link #/live/<id>) is one WHEP session either way.
    const wall = w.transport === "wall" && w.slots.slice(0, w.layout).filter(Boolean).length > 1;
    const previous = window.rtcc.players.splice(0);
    if (!wall) await Promise.all(previous.map((p) => p.stop().catch(() => {})));
    const grid = $("tiles");
    grid.dataset.layout = String(w.layout);
    for (const b of document.querySelectorAll("[data-layout]")) {
      if (b.tagName === "BUTTON") b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === w.layout));
    }
    defaults();
    save();
    w.tiles = [];
    const elements = [];
    for (let i = 0; i < w.layout; i++) {
      const cameraId = w.slots[i] || null;
      const element = tileElement(i, cameraId);
      elements.push(element);
      if (cameraId) w.tiles.push({ cameraId, element, player: null, generation, firstFrameMs: null });
    }
    grid.replaceChildren(...elements);
    w.openedAt = performance.now();
    if (wall) await openWall(w.tiles, streamFor(w.layout), previous);
    else await openAll(w.tiles, streamFor(w.layout));
  }

  function swap(a, b) {
    [w.slots[a], w.slots[b]] = [w.slots[b] || null, w.slots[a] || null];
    render();
  }

  function put(index, cameraId) {
    const at = w.slots.indexOf(cameraId);
    if (at >= 0) w.slots[at] = w.slots[index] || null;
    w.slots[index] = cameraId;
    render();
  }

  // Full screen one tile, on the main stream; leaving full screen returns to the wall.
  async function fullScreen(tile) {
    const cameraId = tile.dataset.camera;
    if (!cameraId) return;
    const entry = w.tiles.find((t) => t.element === tile);
    if (document.fullscreenElement) { await document.exitFullscreen(); return; }
    try { await tile.requestFullscreen(); } catch (e) { tile.classList.add("maximised"); }
    if (entry && entry.wall && entry.player) { // the same section, moved to the main stream
      if (entry.stream === "sub") { entry.stream = "main"; await entry.wall.setStream(entry.player.mid, "main"); }
      return;
    }
    if (entry && entry.stream === "sub") {
      if (entry.player) await drop(entry.player);
      await openTile(entry);
    }
  }

  document.addEventListener("fullscreenchange", () => {
    if (document.fullscreenElement || !w.active || streamFor(w.layout) !== "sub") return;
    for (const t of w.tiles.filter((t) => t.wall && t.player && t.stream === "main")) {
      t.stream = "sub";
      t.wall.setStream(t.player.mid, "sub");
    }
    if (w.tiles.some((t) => !t.wall && t.stream === "main")) render();
  });

  function setLayout(n) {
    w.layout = n;
    render();
  }

  function renderList() {
    const items = window.rtcc.cameras.filter((c) => c.live).slice(0, 500).map((cam) => {
      const s = window.rtcc.cameraState(cam);
      const item = el("li", { class: "camera-item", draggable: "true", dataset: { camera: cam.id } },
        el("span", { class: "dot " + s.key, title: s.text, "aria-label": s.text }),
        el("span", {}, cam.name || cam.id),
        el("button", { type: "button", class: "small", title: "Put on the first free tile", onclick: () => place(cam.id) }, "+"));
      item.addEventListener("dragstart", (e) => e.dataTransfer.setData("text/rtcc-camera", cam.id));
      return item;
    });
    $("wall-cameras").replaceChildren(...items);
  }

  function place(cameraId) {
    let free = w.slots.slice(0, w.layout).indexOf(null);
    if (free < 0) free = w.slots.length < w.layout ? w.slots.length : w.layout - 1;
    w.slots[free] = cameraId;
    save();
    if (w.active) render(); else location.hash = "#/wall";
  }

  function fill(ids) {
    w.layout = [1, 4, 9, 16].find((n) => n >= ids.length) || 16;
    w.slots = ids.slice(0, 16);
    save();
  }

  for (const b of document.querySelectorAll("button[data-layout]")) {
    b.addEventListener("click", () => setLayout(Number(b.dataset.layout)));
  }
  document.addEventListener("rtcc:cameras", () => {
    renderList();
    for (const t of w.tiles) label(t.element, t.cameraId);
  });

  window.rtcc.views.wall = {
    async enter(arg) {
      w.active = true;
      if (arg) { w.layout = 1; w.slots = [arg]; }
      renderList();
      await render();
    },
    async leave() {
      w.active = false;
      w.generation += 1;
      await window.rtcc.stopPlayers();
      $("tiles").replaceChildren();
    },
    key(event) {
      const layouts = { 1: 1, 2: 4, 3: 9, 4: 16 };
      if (layouts[event.key]) { setLayout(layouts[event.key]); return true; }
      if (event.key === "f" && document.activeElement && document.activeElement.classList.contains("tile")) {
        fullScreen(document.activeElement);
        return true;
      }
      return false;
    },
  };
  Object.assign(w, { place, fill, setLayout, render });
})();
