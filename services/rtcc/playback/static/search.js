// Search: events by time, area (drawn on the map), cameras, class and attributes; plates
// exact, prefix, fuzzy or wildcard. Results are a grid of snapshots; a click plays the
// recording at that instant.
"use strict";

(function () {
  const LEAD_S = 3;
  const s = { next: "", kind: "events", results: [] };
  window.rtccSearch = s;

  const local = (ms) => {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 19);
  };
  const clock = (iso) => new Date(iso).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });

  function kind() {
    return document.querySelector("#search-form input[name=kind]:checked").value;
  }

  function syncKind() {
    const plates = kind() === "plates";
    for (const n of document.querySelectorAll("#search-form .plates-only")) n.hidden = !plates;
    for (const n of document.querySelectorAll("#search-form .events-only")) n.hidden = plates;
  }

  function query() {
    const q = new URLSearchParams();
    const start = $("search-start").value, end = $("search-end").value;
    if (start) q.set("start", new Date(start).toISOString());
    if (end) q.set("end", new Date(end).toISOString());
    const cameras = [...$("search-cameras").selectedOptions].map((o) => o.value);
    if (cameras.length) q.set("cameras", cameras.join(","));
    const area = window.rtcc.area;
    if (area) { q.set("lat", area.lat); q.set("lng", area.lng); q.set("radius", area.radius); }
    if ($("search-color").value) q.set("colors", $("search-color").value);
    if ($("search-vehicle").value) q.set("vehicle_types", $("search-vehicle").value);
    if (kind() === "events") {
      if ($("search-class").value) q.set("classes", $("search-class").value);
      if ($("search-type").value) q.set("types", $("search-type").value);
    } else {
      q.set("plate", $("search-plate").value);
      q.set("mode", $("search-mode").value);
    }
    q.set("page_size", "48");
    return q;
  }

  async function snapshotInto(img, item) {
    try {
      const path = `/api/${s.kind}/${encodeURIComponent(item.id)}/snapshot`;
      img.src = (await window.rtcc.api(path)).url;
    } catch (error) {
      img.replaceWith(el("div", { class: "no-snapshot" }, "no snapshot"));
    }
  }

  // The snapshot with the object's box drawn on it (boxes are normalised, like the image).
  function thumb(img, item) {
    const wrap = el("div", { class: "thumb" }, img);
    const [x, y, w, h] = item.box || [];
    if (w > 0 && h > 0) {
      wrap.append(el("span", { class: "box", style: `left:${x * 100}%;top:${y * 100}%;width:${w * 100}%;height:${h * 100}%` }));
    }
    return wrap;
  }

  function card(item) {
    const title = s.kind === "plates" ? item.plate : `${item.class || "object"} · ${item.type.replace(/_/g, " ")}`;
    const extra = Object.values(item.attributes || {}).join(" · ");
    const img = el("img", { alt: title + " on " + window.rtcc.cameraName(item.camera_id), loading: "lazy" });
    const button = el("button", {
      type: "button", class: "result", dataset: { id: item.id, camera: item.camera_id, time: item.time },
      title: "Play the recording at this instant",
      onclick: () => window.rtcc.playAt(item.camera_id, new Date(Date.parse(item.time) - LEAD_S * 1000).toISOString()),
    }, item.has_snapshot ? thumb(img, item) : el("div", { class: "no-snapshot" }, "no snapshot"),
      el("strong", {}, title),
      el("span", {}, window.rtcc.cameraName(item.camera_id)),
      el("span", { class: "hint" }, clock(item.time) + (extra ? " · " + extra : "")
        + (s.kind === "plates" && item.edit_distance ? ` · ${item.edit_distance} edit${item.edit_distance > 1 ? "s" : ""}` : "")));
    if (item.has_snapshot) snapshotInto(img, item);
    return button;
  }

  async function run(more) {
    const status = $("search-status");
    s.kind = kind();
    const q = query();
    if (more) q.set("page_token", s.next);
    status.textContent = "Searching…";
    $("search-button").disabled = true;
    try {
      const body = await window.rtcc.api(`/api/${s.kind}?${q}`);
      const items = s.kind === "plates" ? body.reads : body.events;
      s.next = body.next_page_token || "";
      s.results = more ? s.results.concat(items) : items;
      const cards = items.map(card);
      if (more) $("search-results").append(...cards); else $("search-results").replaceChildren(...cards);
      status.textContent = s.results.length ? `${s.results.length}${body.total ? " of about " + body.total : ""} results` : "Nothing matches.";
      $("search-more").hidden = !s.next;
    } catch (error) {
      status.textContent = "Search failed: " + error.message;
      status.dataset.error = String(error.status || "error");
    } finally {
      $("search-button").disabled = false;
    }
  }

  function fillCameras() {
    const select = $("search-cameras");
    const chosen = new Set([...select.selectedOptions].map((o) => o.value));
    select.replaceChildren(...window.rtcc.cameras.slice(0, 2000).map((c) =>
      el("option", { value: c.id, selected: chosen.has(c.id) }, c.name || c.id)));
  }

  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); run(false); });
  $("search-more").addEventListener("click", () => run(true));
  for (const r of document.querySelectorAll("#search-form input[name=kind]")) r.addEventListener("change", syncKind);
  document.addEventListener("rtcc:cameras", fillCameras);

  window.rtcc.views.search = {
    async enter() {
      await window.rtcc.stopPlayers();
      if (!$("search-start").value) {
        $("search-start").value = local(Date.now() - 3600 * 1000);
        $("search-end").value = local(Date.now() + 60 * 1000);
      }
      fillCameras();
      syncKind();
      const area = window.rtcc.area;
      $("search-area").textContent = area ? `Within ${area.radius} m of the area drawn on the map` : "Draw an area on the map to search only there.";
      if (!window.rtcc.config.search) $("search-status").textContent = "Search needs the analytics service, which this platform does not run.";
    },
  };
})();
