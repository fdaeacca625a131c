// The map: Leaflet (vendored from npm), a configurable basemap with an offline
// graticule, clustered camera markers on a canvas (smooth at 10,000 cameras), view
// cones when zoomed in, live status colours, and a circle drawn to search or to pick.
"use strict";

(function () {
  const COLORS = { online: "#3ddc84", degraded: "#ffb020", offline: "#ff5c5c", denied: "#7a8591", unknown: "#4da3ff" };
  const CONE_ZOOM = 16; // view cones only when few cameras are on screen
  const m = { map: null, cluster: null, cones: null, markers: new Map(), drawing: false, circle: null, fitted: false };
  window.rtccMap = m;

  // Offline fallback: a graticule drawn on canvas tiles, nothing fetched.
  const Graticule = L.GridLayer.extend({
    createTile(coords) {
      const tile = document.createElement("canvas");
      const size = this.getTileSize();
      tile.width = size.x; tile.height = size.y;
      const ctx = tile.getContext("2d");
      ctx.fillStyle = "#141b22"; ctx.fillRect(0, 0, size.x, size.y);
      ctx.strokeStyle = "#223040"; ctx.lineWidth = 1;
      ctx.strokeRect(0.5, 0.5, size.x, size.y);
      ctx.fillStyle = "#3b4b5c"; ctx.font = "10px system-ui";
      const nw = this._map.unproject([coords.x * size.x, coords.y * size.y], coords.z);
      ctx.fillText(nw.lat.toFixed(4) + ", " + nw.lng.toFixed(4), 4, 12);
      return tile;
    },
  });

  function basemap() {
    const b = window.rtcc.config.basemap || {};
    if (b.url) {
      return L.tileLayer(b.url, { attribution: b.attribution || "", maxZoom: b.max_zoom || 19 });
    }
    return new Graticule({ attribution: "offline map: set playback.basemap_url for tiles", maxZoom: 22 });
  }

  function init() {
    if (m.map) return;
    m.map = L.map("map-canvas", { preferCanvas: true, zoomControl: true, keyboard: true, maxZoom: 22 });
    m.map.setView([40.7128, -74.006], 15);
    basemap().addTo(m.map);
    m.renderer = L.canvas({ padding: 0.3 });
    m.cluster = L.markerClusterGroup({
      chunkedLoading: true, chunkInterval: 100, showCoverageOnHover: false,
      disableClusteringAtZoom: 18, maxClusterRadius: 50, removeOutsideVisibleBounds: true,
    });
    m.cluster.addTo(m.map);
    m.cones = L.layerGroup().addTo(m.map);
    m.map.on("moveend zoomend", drawCones);
    m.map.on("mousedown", startDraw);
    m.map.on("mousemove", moveDraw);
    m.map.on("mouseup", endDraw);
  }

  function popup(cam) {
    const s = window.rtcc.cameraState(cam);
    const box = el("div", { class: "popup" },
      el("strong", {}, cam.name || cam.id), el("br"),
      el("span", { class: "status-badge " + s.key }, s.text), el("br"));
    box.append(
      el("button", { type: "button", onclick: () => { location.hash = "#/camera/" + encodeURIComponent(cam.id); } }, "Open"),
      " ",
      el("button", { type: "button", disabled: !cam.live, onclick: () => window.rtccWall.place(cam.id) }, "Add to wall"));
    return box;
  }

  function marker(cam) {
    const s = window.rtcc.cameraState(cam);
    const dot = L.circleMarker([cam.lat, cam.lng], {
      renderer: m.renderer, radius: 7, weight: 2, color: "#0b0f14", fillColor: COLORS[s.key], fillOpacity: 0.95,
    });
    dot.cameraId = cam.id;
    dot.bindTooltip(cam.name || cam.id);
    dot.bindPopup(() => popup(window.rtcc.byId.get(cam.id) || cam));
    return dot;
  }

  // Replace the camera layer; returns when Leaflet has taken every marker.
  function setCameras(cameras) {
    init();
    const t0 = performance.now();
    const next = new Map();
    const added = [];
    for (const cam of cameras) {
      if (!Number.isFinite(cam.lat) || !Number.isFinite(cam.lng) || (cam.lat === 0 && cam.lng === 0)) continue;
      const old = m.markers.get(cam.id);
      const key = window.rtcc.cameraState(cam).key;
      if (old && old.stateKey === key && old.getLatLng().lat === cam.lat && old.getLatLng().lng === cam.lng) {
        next.set(cam.id, old);
        continue;
      }
      const dot = marker(cam);
      dot.stateKey = key;
      next.set(cam.id, dot);
      added.push(dot);
    }
    const removed = [...m.markers].filter(([id, dot]) => next.get(id) !== dot).map(([, dot]) => dot);
    m.cluster.removeLayers(removed);
    m.cluster.addLayers(added);
    m.markers = next;
    if (!m.fitted && next.size) {
      m.fitted = true;
      m.map.fitBounds(L.latLngBounds([...next.values()].map((d) => d.getLatLng())).pad(0.3), { maxZoom: 18 });
    }
    drawCones();
    m.lastRenderMs = performance.now() - t0;
    return m.lastRenderMs;
  }

  // A camera's field of view as a polygon: apex, arc of `angle` around `heading`.
  function cone(cam) {
    const range = cam.range || 40;
    const points = [[cam.lat, cam.lng]];
    const mPerDegLat = 111320, mPerDegLng = 111320 * Math.cos((cam.lat * Math.PI) / 180);
    for (let i = 0; i <= 8; i++) {
      const a = ((cam.heading - cam.angle / 2 + (cam.angle * i) / 8) * Math.PI) / 180;
      points.push([cam.lat + (range * Math.cos(a)) / mPerDegLat, cam.lng + (range * Math.sin(a)) / mPerDegLng]);
    }
    return points;
  }

  function drawCones() {
    if (!m.map) return;
    m.cones.clearLayers();
    if (m.map.getZoom() < CONE_ZOOM) return;
    const bounds = m.map.getBounds();
    let drawn = 0;
    for (const cam of window.rtcc.cameras) {
      if (!(cam.angle > 0) || !bounds.contains([cam.lat, cam.lng])) continue;
      const key = window.rtcc.cameraState(cam).key;
      L.polygon(cone(cam), { renderer: m.renderer, color: COLORS[key], weight: 1, fillOpacity: 0.15, interactive: false }).addTo(m.cones);
      if (++drawn > 500) break;
    }
  }

  // Drawing a circle: press, drag, release. The map does not pan meanwhile.
  function armDraw(on) {
    m.drawing = on;
    $("draw-area").setAttribute("aria-pressed", String(on));
    $("map-canvas").classList.toggle("drawing", on);
    if (on) m.map.dragging.disable(); else m.map.dragging.enable();
  }

  function startDraw(e) {
    if (!m.drawing) return;
    if (m.circle) m.circle.remove();
    m.circle = L.circle(e.latlng, { radius: 1, color: "#ffd24d", weight: 2, fillOpacity: 0.08 }).addTo(m.map);
    m.drawStart = e.latlng;
  }

  function moveDraw(e) {
    if (m.drawing && m.drawStart) m.circle.setRadius(Math.max(1, m.map.distance(m.drawStart, e.latlng)));
  }

  function endDraw() {
    if (!m.drawing || !m.drawStart) return;
    m.drawStart = null;
    armDraw(false);
    const c = m.circle.getLatLng();
    setArea({ lat: c.lat, lng: c.lng, radius: Math.round(m.circle.getRadius()) });
  }

  function camerasIn(area) {
    if (!area) return [];
    const center = L.latLng(area.lat, area.lng);
    return window.rtcc.cameras.filter((c) => center.distanceTo([c.lat, c.lng]) <= area.radius);
  }

  function setArea(area) {
    window.rtcc.area = area;
    const inside = camerasIn(area);
    $("area-info").textContent = area ? `${inside.length} cameras within ${area.radius} m` : "";
    for (const id of ["clear-area", "area-wall", "area-search"]) $(id).hidden = !area;
    if (!area && m.circle) { m.circle.remove(); m.circle = null; }
    renderList();
  }

  function renderList() {
    const filter = $("camera-filter").value.trim().toLowerCase();
    const inArea = window.rtcc.area ? new Set(camerasIn(window.rtcc.area).map((c) => c.id)) : null;
    const items = [];
    for (const cam of window.rtcc.cameras) {
      if (filter && !(cam.name || "").toLowerCase().includes(filter) && !cam.id.includes(filter)) continue;
      if (inArea && !inArea.has(cam.id)) continue;
      const s = window.rtcc.cameraState(cam);
      items.push(el("li", { class: "camera-item", dataset: { camera: cam.id } },
        el("span", { class: "dot " + s.key, title: s.text, "aria-label": s.text }),
        el("a", { href: "#/camera/" + encodeURIComponent(cam.id) }, cam.name || cam.id),
        el("button", { type: "button", class: "small", title: "Show on the map",
          onclick: () => { m.map.setView([cam.lat, cam.lng], 18); const d = m.markers.get(cam.id); if (d) m.cluster.zoomToShowLayer(d, () => d.openPopup()); } }, "◎")));
      if (items.length >= 300) { items.push(el("li", { class: "hint" }, "… filter to see more")); break; }
    }
    $("camera-list").replaceChildren(...items);
  }

  $("draw-area").addEventListener("click", () => armDraw(!m.drawing));
  $("clear-area").addEventListener("click", () => setArea(null));
  $("area-wall").addEventListener("click", () => {
    window.rtccWall.fill(camerasIn(window.rtcc.area).filter((c) => c.live).map((c) => c.id));
    location.hash = "#/wall";
  });
  $("area-search").addEventListener("click", () => { location.hash = "#/search"; });
  $("camera-filter").addEventListener("input", renderList);
  document.addEventListener("rtcc:cameras", () => {
    if (m.map) setCameras(window.rtcc.cameras);
    renderList();
  });

  window.rtcc.views.map = {
    async enter() {
      init();
      m.map.invalidateSize();
      setCameras(window.rtcc.cameras);
      renderList();
      await window.rtcc.stopPlayers();
    },
    key(event) {
      if (event.key === "d") { armDraw(!m.drawing); return true; }
      if (event.key === "/") { $("camera-filter").focus(); return true; }
      if (event.key === "Escape" && m.drawing) { armDraw(false); return true; }
      return false;
    },
  };
  m.setCameras = setCameras;
  m.camerasIn = camerasIn;
  m.setArea = setArea;
})();
